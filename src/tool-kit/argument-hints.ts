// An argument a tool does not take is refused, never ignored (a misspelt `waitms` would
// otherwise silently mean "no wait"), with the name the model most likely meant: the
// same name in another case or with other separators (runId → run_id), a word models
// reach for instead (message → text in send_steer, prompt in start_interactive_run), or a
// typo. Only a name the tool takes is suggested (src/did-you-mean.ts): each word below
// lists the names it may mean, and hints the one the tool takes (none if it takes two).
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
export function unknownArguments(tool: string, names: readonly string[]) {
  return (iss: { code?: string; keys?: string[] }): string | undefined => {
    if (iss.code !== "unrecognized_keys" || !iss.keys) return undefined;
    const unknown = iss.keys.map((k) => {
      const guess = didYouMean(k, names, ARGUMENT_SYNONYMS);
      return `${JSON.stringify(k)}${guess ? ` (did you mean ${guess}?)` : ""}`;
    });
    return `unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; ${tool} takes ${names.length > 0 ? names.join(", ") : "no arguments"}`;
  };
}
