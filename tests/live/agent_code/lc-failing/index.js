// Live-tier agent: fails its first turn (an uncaught throw ends the run as failed).
function run(input) {
  throw new Error("scripted failure for " + input.prompt);
}
