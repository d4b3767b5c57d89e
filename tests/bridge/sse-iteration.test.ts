// The SSE reader's iteration surface beyond `for await`: the `batches` view and the
// `onEnd` hook (which lets a caller map errors without wrapping the iterator).
import { describe, expect, it } from "vitest";
import { readSseFrames } from "../../src/bridge/sse.js";
import { UnreachableError } from "../../src/bridge/errors.js";
import type { StreamFrame } from "../../src/bridge/events.js";

const enc = new TextEncoder();
const text = (t: string) => `event: text\ndata: ${JSON.stringify({ type: "text", text: t })}\n\n`;

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield enc.encode(p);
}

const kinds = (fs: StreamFrame[]) => fs.map((f) => (f.kind === "event" ? `${f.event.type}:${f.event.text ?? ""}` : f.kind));

describe("readSseFrames: batches", () => {
  it("hands out every frame one read completed, in order, the same frames as one by one", async () => {
    const wire = [text("a"), text("b") + text("c"), ": keepalive\n\n", 'event: started\ndata: {"type":"started"}\n\n' + text("d")];
    const one: StreamFrame[] = [];
    for await (const f of readSseFrames(chunks(...wire))) one.push(f);
    const batches: StreamFrame[][] = [];
    for await (const b of readSseFrames(chunks(...wire)).batches) batches.push(b);
    expect(batches.map((b) => b.length)).toEqual([1, 2, 2]);
    expect(kinds(batches.flat())).toEqual(kinds(one));
    expect(kinds(one)).toEqual(["text:a", "text:b", "text:c", "started:", "text:d"]);
  });

  it("releases the body when the consumer stops early", async () => {
    let released = false;
    async function* src(): AsyncGenerator<Uint8Array> {
      try {
        yield enc.encode(text("a"));
        yield enc.encode(text("b"));
      } finally {
        released = true;
      }
    }
    for await (const b of readSseFrames(src()).batches) {
      expect(b).toHaveLength(1);
      break;
    }
    expect(released).toBe(true);
  });
});

describe("readSseFrames: onEnd", () => {
  it("is called once, with undefined at EOF and after return()", async () => {
    const seen: unknown[] = [];
    const frames = [];
    for await (const f of readSseFrames(chunks(text("a"), text("b")), { onEnd: (e) => void seen.push(e) })) frames.push(f);
    expect(frames).toHaveLength(2);
    expect(seen).toEqual([undefined]);

    const early: unknown[] = [];
    for await (const _f of readSseFrames(chunks(text("a"), text("b")), { onEnd: (e) => void early.push(e) })) break;
    expect(early).toEqual([undefined]);
  });

  it("maps the error that ends the stream: to a normal end, or to another error", async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield enc.encode(text("a"));
      throw new Error("socket hang up");
    }
    const got: StreamFrame[] = [];
    for await (const f of readSseFrames(broken(), { onEnd: () => undefined })) got.push(f);
    expect(got).toHaveLength(1);

    const mapped = new Error("mapped");
    let caught: unknown;
    let original: unknown;
    try {
      for await (const _f of readSseFrames(broken(), { onEnd: (e) => ((original = e), mapped) })) {
        // read until the error
      }
    } catch (e) {
      caught = e;
    }
    expect(original).toBeInstanceOf(UnreachableError);
    expect(caught).toBe(mapped);
  });
});
