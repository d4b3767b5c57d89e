// The SSE reader's iteration surface beyond `for await`: the `batches` view and the
// `onEnd` hook (which lets a caller map errors without wrapping the iterator).
import { describe, expect, it } from "vitest";
import { readSseFrames, type PushBody, type PushSink } from "../../src/bridge/loomcycle/sse.js";
import { UnreachableError } from "../../src/bridge/loomcycle/errors.js";
import type { StreamFrame } from "../../src/bridge/loomcycle/events.js";
import { nextTurn } from "../helpers.js";

const enc = new TextEncoder();
const text = (t: string) => `event: text\ndata: ${JSON.stringify({ type: "text", text: t })}\n\n`;

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield enc.encode(p);
}

const kinds = (fs: StreamFrame[]) => fs.map((f) => (f.kind === "event" ? `${f.event.type}:${f.event.text ?? ""}` : f.kind));

describe("readSseFrames: batches", () => {
  it("hands out every frame complete so far, in order, the same frames as one by one", async () => {
    const wire = [
      text("a"),
      text("b") + text("c"),
      ": keepalive\n\n",
      'event: started\ndata: {"type":"started"}\n\n' + text("d"),
    ];
    const one: StreamFrame[] = [];
    for await (const f of readSseFrames(chunks(...wire))) one.push(f);
    const batches: StreamFrame[][] = [];
    for await (const b of readSseFrames(chunks(...wire)).batches) batches.push(b);
    // The source is read ahead of the consumer, so how frames group into batches
    // depends on timing; every batch has at least one frame, and none is lost or reordered.
    expect(batches.every((b) => b.length >= 1)).toBe(true);
    expect(kinds(batches.flat())).toEqual(kinds(one));
    expect(kinds(one)).toEqual(["text:a", "text:b", "text:c", "started:", "text:d"]);
  });

  it("a batch holds every frame parsed when the consumer asks: three frames pushed in one read come as one batch, the next read's as the next", async () => {
    let sink: PushSink | undefined;
    const body: PushBody = {
      start: (s) => (sink = s),
      pause: () => undefined,
      resume: () => undefined,
      release: () => undefined,
    };
    const it = readSseFrames(body).batches[Symbol.asyncIterator]();
    sink!.data(enc.encode(text("a") + text("b") + text("c") + "event: te"));
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(kinds(first.value as StreamFrame[])).toEqual(["text:a", "text:b", "text:c"]);
    const pending = it.next();
    sink!.data(enc.encode('xt\ndata: {"type":"text","text":"d"}\n\n'));
    sink!.end();
    expect(kinds((await pending).value as StreamFrame[])).toEqual(["text:d"]);
    expect((await it.next()).done).toBe(true);
  });

  it("releases the body when the consumer stops early (an endless body: reading ahead stops at the backlog bound)", async () => {
    let released = false;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(enc.encode(text(`t${pulls}`)));
      },
      cancel() {
        released = true;
      },
    });
    for await (const b of readSseFrames(body).batches) {
      expect(b.length).toBeGreaterThanOrEqual(1);
      break;
    }
    expect(released).toBe(true);
  });

  it("pauses an endless body while the consumer holds back, and resumes it as frames are taken", async () => {
    // The body and the reader work in promise callbacks alone: on the event loop's next turn,
    // the reader has read all it would. A reader that never pauses would pull for ever (and
    // starve that turn): the body ends it with an error past any sane read-ahead.
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        if (pulls > 20_000) c.error(new Error("read ahead without bound"));
        else c.enqueue(enc.encode(text(`t${pulls}`)));
      },
    });
    const it = readSseFrames(body)[Symbol.asyncIterator]();
    await it.next();
    await nextTurn();
    const held = pulls;
    // Bounded read-ahead: the backlog stops at the pause mark (plus the stream's own queue).
    expect(held).toBeGreaterThan(100);
    expect(held).toBeLessThan(2100);
    await nextTurn();
    expect(pulls).toBe(held);
    for (let i = 0; i < held; i++) await it.next();
    await nextTurn();
    expect(pulls).toBeGreaterThan(held);
    await it.return?.();
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
