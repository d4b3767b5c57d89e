// The agents a token may start as a result (list_agents, loomcycle://agents).
import type { RunnableAgent } from "../bridge/loomcycle/api-types.js";

/** The structured list and its text; loomcycle lists every runnable agent at once. */
export function agentList(runnable: readonly RunnableAgent[]): {
  structured: { agents: Array<{ name: string; source: string }>; count: number; has_more: boolean };
  text: string;
} {
  const agents = runnable.map((a) => ({ name: a.name, source: a.source ?? "" }));
  const lines = [`count=${agents.length} has_more=false`, ...agents.map((a) => `- ${a.name} (${a.source})`)];
  return { structured: { agents, count: agents.length, has_more: false }, text: lines.join("\n") };
}
