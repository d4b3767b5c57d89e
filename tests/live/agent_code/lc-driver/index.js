// Live-tier agent that drives another agent's interactive run through the bridge, which
// loomcycle runs as the stdio MCP server `bridge` (tests/live/loomcycle.yaml). It starts an
// lc-asker run, answers its question, steers it and reads its log back from cursor 0, then
// reports what it saw as JSON. loomcycle hands an MCP tool's text block to the JavaScript,
// so ids are read from the bridge's text rendering.
function text(r) {
  return typeof r === "string" ? r : JSON.stringify(r);
}
function find(re, s) {
  var m = re.exec(s);
  return m ? m[1] : "";
}
function run() {
  var started = text(mcp__bridge__start_interactive_run({ agent: "lc-asker", prompt: "driven by an agent", wait_ms: 20000 }));
  var runId = find(/(r_[0-9a-f]+)/, started);
  var interruptId = find(/(intr_[0-9a-f]+)/, started);
  var answered = text(
    mcp__bridge__resolve_interrupt({ run_id: runId, interrupt_id: interruptId, answer: "yes", wait_ms: 20000 }),
  );
  var steered = text(mcp__bridge__send_steer({ run_id: runId, text: "and once more", wait_ms: 20000 }));
  var log = text(mcp__bridge__read_run_events({ run_id: runId, cursor: 0 }));
  return {
    final_text: JSON.stringify({
      run_id: runId,
      interrupt_id: interruptId,
      asked: started.indexOf("Proceed?") >= 0,
      answered: answered.indexOf("Answer was yes") >= 0,
      steered: steered.indexOf("You said: and once more") >= 0,
      log_has_both: log.indexOf("Answer was yes") >= 0 && log.indexOf("and once more") >= 0,
    }),
  };
}
