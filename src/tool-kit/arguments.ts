// How a tool's arguments are checked, and what a model is told when they are wrong: one
// line per problem, nothing else.
//
// An argument a tool does not take is refused, never ignored (a misspelt `waitms` would
// otherwise silently mean "no wait"), with the name the model most likely meant: the
// same name in another case or with other separators (runId → run_id), a word models
// reach for instead (message → text in send_steer, prompt in start_interactive_run), or a
// typo. Only a name the tool takes is suggested (src/did-you-mean.ts): each word below
// lists the names it may mean, and hints the one the tool takes (none if it takes two).
import { z } from "zod";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { didYouMean, type Synonyms } from "../did-you-mean.js";

const MESSAGE = ["text", "prompt", "answer", "reason"];
const WAIT_MS = ["wait_ms"];
const CURSOR = ["cursor"];
const ANSWER = ["answer"];

/** Words models use for the tools' arguments, normalized (lower case, no separators), by concept. */
export const ARGUMENT_SYNONYMS: Synonyms = {
  // what is said to the agent, or why
  message: MESSAGE,
  msg: MESSAGE,
  content: MESSAGE,
  input: MESSAGE,
  body: MESSAGE,
  query: ["text", "prompt", "label_contains"],
  instruction: ["text", "prompt"],
  instructions: ["text", "prompt"],
  task: ["prompt", "text"],
  steer: ["text"],
  prompt: ["text"],
  text: ["prompt", "answer"],
  // an answer to an agent's question
  response: ANSWER,
  reply: ["answer", "text"],
  choice: ANSWER,
  option: ANSWER,
  selection: ANSWER,
  selected: ANSWER,
  value: ANSWER,
  // how long to wait
  timeout: WAIT_MS,
  timeoutms: WAIT_MS,
  timeoutmillis: WAIT_MS,
  timeoutseconds: WAIT_MS,
  wait: WAIT_MS,
  waittime: WAIT_MS,
  waitseconds: WAIT_MS,
  waitmillis: WAIT_MS,
  waitmilliseconds: WAIT_MS,
  delay: WAIT_MS,
  block: WAIT_MS,
  blockms: WAIT_MS,
  pollms: WAIT_MS,
  duration: WAIT_MS,
  until: ["wait_for"],
  waituntil: ["wait_for"],
  stopat: ["wait_for"],
  returnon: ["wait_for"],
  // ids (agent_id is loomcycle's id of a run's agent: only start_interactive_run, which
  // takes an agent's name and no id, hears it as agent; a bare id is no hint where both a
  // run and a question are named)
  id: ["run_id", "interrupt_id"],
  run: ["run_id", "run_ids"],
  runs: ["run_ids", "run_id"],
  ids: ["run_ids"],
  interrupt: ["interrupt_id"],
  interruption: ["interrupt_id"],
  interruptionid: ["interrupt_id"],
  question: ["interrupt_id", "questions"],
  questionid: ["interrupt_id"],
  name: ["agent", "label_contains"],
  agentname: ["agent"],
  agentid: ["agent"],
  agenttype: ["agent"],
  assistant: ["agent"],
  user: ["user_id"],
  username: ["user_id"],
  owner: ["user_id"],
  session: ["session_id"],
  conversation: ["session_id"],
  conversationid: ["session_id"],
  thread: ["session_id"],
  threadid: ["session_id"],
  meta: ["metadata"],
  tags: ["metadata"],
  labels: ["metadata"],
  // where to read from, and how much
  from: CURSOR,
  offset: CURSOR,
  position: CURSOR,
  pos: CURSOR,
  since: CURSOR,
  after: CURSOR,
  start: CURSOR,
  seq: CURSOR,
  fromseq: CURSOR,
  index: CURSOR,
  limit: ["max_events"],
  max: ["max_events", "limit"],
  count: ["max_events", "limit"],
  maxitems: ["max_events", "limit"],
  maxresults: ["max_events", "limit"],
  pagesize: ["max_events", "limit"],
  maxlength: ["max_chars"],
  maxlen: ["max_chars"],
  maxcharacters: ["max_chars"],
  charlimit: ["max_chars"],
  maxsize: ["max_chars"],
  maxbytes: ["max_chars"],
  maxtokens: ["max_chars"],
  outputformat: ["format"],
  raw: ["format"],
  digest: ["format"],
  mode: ["format", "questions"],
  // refusing a question
  reject: ["decline"],
  refuse: ["decline"],
  deny: ["decline"],
  dismiss: ["decline"],
  skip: ["decline"],
  cancel: ["decline"],
  // filters
  status: ["state"],
  state: ["status"],
  filter: ["label_contains", "state", "status"],
  label: ["label_contains"],
  search: ["label_contains"],
  contains: ["label_contains"],
  why: ["reason"],
  // who answers questions
  human: ["questions"],
  questionmode: ["questions"],
  askhuman: ["questions"],
  answeredby: ["questions"],
};

/** The zod error line for arguments `tool` does not take (its shape's keys are what it takes). */
function unknownArguments(tool: string, names: readonly string[]) {
  return (iss: { code?: string; keys?: string[] }): string | undefined => {
    if (iss.code !== "unrecognized_keys" || !iss.keys) return undefined;
    const unknown = iss.keys.map((k) => {
      const guess = didYouMean(k, names, ARGUMENT_SYNONYMS);
      return `${JSON.stringify(k)}${guess ? ` (did you mean ${guess}?)` : ""}`;
    });
    return `unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; ${tool} takes ${names.length > 0 ? names.join(", ") : "no arguments"}`;
  };
}

/** A path below an argument, as in metadata.repo or run_ids[2]. */
function where(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}

/**
 * The problems with a call's arguments, one line each, the unknown arguments first. An
 * argument reported missing is left out when an unknown one was hinted as it ("message"
 * for send_steer's text): the hint says it already.
 */
export function argumentProblems(issues: readonly z.core.$ZodIssue[], names: readonly string[], args: unknown): string {
  const given = args !== null && typeof args === "object" ? (args as Record<string, unknown>) : {};
  const hinted = new Set<string>();
  for (const iss of issues)
    if (iss.code === "unrecognized_keys")
      for (const k of iss.keys) {
        const guess = didYouMean(k, names, ARGUMENT_SYNONYMS);
        if (guess) hinted.add(guess);
      }
  const lines = issues
    .filter((iss) => !(iss.path.length === 1 && hinted.has(String(iss.path[0])) && given[String(iss.path[0])] === undefined))
    .sort((a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"))
    .map((iss) => (iss.path.length > 1 ? `${iss.message} (at ${where(iss.path)})` : iss.message));
  return [...new Set(lines)].join("\n");
}

/**
 * A tool's arguments, checked here rather than by the SDK. McpServer (SDK 1.x) checks them
 * against the input schema itself and words a failure "MCP error -32602: Input validation
 * error: Invalid arguments for tool X: <each problem> at <its path>", with no option to
 * word it otherwise; a model needs only the problem. So the SDK gets a schema that takes
 * any object and carries, as its metadata, the JSON Schema of the real one (tools/list
 * shows exactly that, as before: tests/tools/metadata.test.ts compares it byte for byte),
 * and `check` applies the real one: the arguments with their defaults, or the isError
 * result of the problems.
 */
export function toolArguments(tool: string, shape: z.ZodRawShape) {
  const names = Object.keys(shape);
  const strict = z.strictObject(shape, { error: unknownArguments(tool, names) });
  // No "$schema" in the input schema a host shows its model (~50 bytes a tool, in every
  // conversation): MCP reads a schema without it as JSON Schema 2020-12, and these use
  // only keywords that mean the same there as in the draft-07 zod would name. Unknown
  // arguments are refused when the call is checked; the schema does not spell that out
  // (additionalProperties, ~27 bytes a tool) since a model sends only what it was shown.
  const listed = z
    .looseObject({})
    .meta({ ...z.toJSONSchema(strict, { target: "draft-7", io: "input" }), $schema: undefined, additionalProperties: undefined });
  return {
    listed,
    check(args: unknown): { ok: true; args: Record<string, unknown> } | { ok: false; error: CallToolResult } {
      const parsed = strict.safeParse(args ?? {});
      if (parsed.success) return { ok: true, args: parsed.data };
      return {
        ok: false,
        error: { content: [{ type: "text", text: argumentProblems(parsed.error.issues, names, args) }], isError: true },
      };
    },
  };
}
