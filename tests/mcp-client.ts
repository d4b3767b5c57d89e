// The one in-process MCP host for tests: a real SDK Client over the SDK's in-memory
// transport, talking to createServer() for a given Bridge.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  ElicitRequestSchema,
  type CallToolResult,
  type ElicitRequest,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation";
import type { Bridge } from "../src/bridge/bridge.js";
import { createServer } from "../src/server.js";

export interface ToolOutcome {
  isError: boolean;
  text: string;
  sc: Record<string, unknown> & { events?: Array<Record<string, unknown>>; pending_interrupts?: Array<Record<string, unknown>> };
  raw: CallToolResult;
  /** Wall time of the call as the host saw it. */
  ms: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  onprogress?: (p: unknown) => void;
  timeout?: number;
}

export type Call = (name: string, args: Record<string, unknown>, opts?: CallOptions) => Promise<ToolOutcome>;

export interface ConnectOptions {
  name?: string;
  /** Declare form elicitation and answer `elicitation/create` with this handler. */
  onElicit?: (req: ElicitRequest, extra: { signal: AbortSignal }) => Promise<ElicitResult>;
  /** Declare MCP Apps (extension io.modelcontextprotocol/ui with HTML views), as a host that shows the run console. */
  apps?: boolean;
}

/** What a host that renders MCP Apps declares in its initialize. */
export const APPS_CAPABILITY = { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } };

/**
 * The SDK's own validator (AjvJsonSchemaValidator, with its Ajv options), each schema compiled
 * once per test worker and shared by every test client: a client otherwise builds an Ajv and
 * compiles every tool's outputSchema again at listTools, about 50 ms a connect (a tenth of
 * the suite's CPU). Results are validated exactly as before.
 */
class SharedValidator implements jsonSchemaValidator {
  private readonly ajv = new AjvJsonSchemaValidator();
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown>>();
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let v = this.compiled.get(key);
    if (!v) this.compiled.set(key, (v = this.ajv.getValidator<unknown>(schema)));
    return v as JsonSchemaValidator<T>;
  }
}
export const sharedValidator: jsonSchemaValidator = new SharedValidator();

/** A connected client; `close` closes the client and the server (not the bridge). */
export async function connect(
  bridge: Bridge,
  opts: ConnectOptions = {},
): Promise<{ client: Client; close: () => Promise<void> }> {
  const { server, close } = createServer({ bridge });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client(
    { name: opts.name ?? "test-host", version: "1.0.0" },
    {
      capabilities: {
        ...(opts.onElicit ? { elicitation: { form: {} } } : {}),
        ...(opts.apps ? { extensions: APPS_CAPABILITY } : {}),
      },
      jsonSchemaValidator: sharedValidator,
    },
  );
  if (opts.onElicit) client.setRequestHandler(ElicitRequestSchema, opts.onElicit);
  await Promise.all([server.connect(a), client.connect(b)]);
  // As hosts do: with the tool list known, the SDK client validates every result's
  // structuredContent against the tool's outputSchema (strictly: no extra fields).
  await client.listTools();
  return {
    client,
    close: async () => {
      await client.close();
      await close();
    },
  };
}

export function caller(client: Client, defaultTimeoutMs = 70_000): Call {
  return async (name, args, opts = {}) => {
    const reqOpts: Record<string, unknown> = { timeout: opts.timeout ?? defaultTimeoutMs };
    if (opts.signal) reqOpts.signal = opts.signal;
    if (opts.onprogress) reqOpts.onprogress = opts.onprogress;
    const t0 = Date.now();
    const raw = (await client.callTool({ name, arguments: args }, undefined, reqOpts)) as CallToolResult;
    const first = raw.content[0];
    return {
      isError: raw.isError === true,
      text: first && first.type === "text" ? first.text : "",
      sc: (raw.structuredContent ?? {}) as ToolOutcome["sc"],
      raw,
      ms: Date.now() - t0,
    };
  };
}
