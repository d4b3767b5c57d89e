// Request bodies the simulator reads: JSON objects checked against the fields loomcycle
// takes. A bad body is refused with one line (the bridge never sends one).
import { z } from "zod";

export type DecodeResult<T> = { ok: true; value: T; empty: boolean } | { ok: false; error: string; empty: boolean };

/** Parse `body` as one JSON object checked by `schema`; `T` is the shape the schema guarantees. */
export function decodeBody<T>(body: string, schema: z.ZodType): DecodeResult<T> {
  if (body.trim() === "") return { ok: false, error: "EOF", empty: true };
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), empty: false };
  }
  const r = schema.safeParse(v ?? {});
  if (r.success) return { ok: true, value: r.data as T, empty: false };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, error: `${where}${issue?.message ?? "not a JSON object"}`, empty: false };
}

/** An optional field; null leaves it unset, as loomcycle's decoder does. */
const opt = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);
const str = opt(z.string());
const bool = opt(z.boolean());
const int = opt(z.number().int());

const contentBlock = z.looseObject({ type: str, text: str, cacheable: bool, kind: str, media_type: str, data: str });
const segment = z.looseObject({ role: str, content: opt(z.array(opt(contentBlock))) });
const common = {
  segments: opt(z.array(opt(segment))),
  tools: opt(z.array(z.string())),
  allowed_hosts: opt(z.array(z.string())),
  web_search_filter: str,
  agent_id: str,
  user_tier: str,
  user_bearer: str,
  user_credentials: opt(z.record(z.string(), z.string())),
  parent_context: opt(z.record(z.string(), z.string())),
  metadata: opt(z.record(z.string(), z.unknown())),
  run_timeout_seconds: int,
  interactive: bool,
};

export const MessagesRequestSchema = z.looseObject(common);
export const RunRequestSchema = z.looseObject({
  agent: str,
  prompt: str,
  session_id: str,
  tenant_id: str,
  user_id: str,
  ...common,
});
export const RunInputSchema = z.looseObject({ text: str });
export const ReasonSchema = z.looseObject({ reason: str });
export const ResolveSchema = z.looseObject({ kind: str, answer: str, resolved_by: str, disposition: str });

export interface ContentBlockIn {
  type?: string;
  text?: string;
  cacheable?: boolean;
  kind?: string;
  media_type?: string;
  data?: string;
}
export interface SegmentIn {
  role?: string;
  content?: Array<ContentBlockIn | undefined>;
}
export interface RunRequest {
  agent?: string;
  prompt?: string;
  session_id?: string;
  tenant_id?: string;
  user_id?: string;
  segments?: Array<SegmentIn | undefined>;
  agent_id?: string;
  user_bearer?: string;
  parent_context?: Record<string, string>;
  metadata?: Record<string, unknown>;
  interactive?: boolean;
}
