// Live-tier agent: replies "You said: <input>" and parks, every turn.
function run(input) {
  return { final_text: "You said: " + input.prompt };
}
