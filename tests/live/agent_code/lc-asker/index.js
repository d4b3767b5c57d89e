// Live-tier agent: asks "Proceed?" (options yes/no) through loomcycle's Interruption tool,
// then replies with the answer and parks. Every later turn replays the recorded answer
// (code-js re-runs run() from the top each turn) and echoes the new input.
function run(input) {
  var raw = Interruption({ op: "ask", question: "Proceed?", options: ["yes", "no"] });
  var r = typeof raw === "string" ? JSON.parse(raw) : raw;
  var head = r.declined ? "Declined" : "Answer was " + r.answer;
  return { final_text: head + ". You said: " + input.prompt };
}
