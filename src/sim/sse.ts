// SSE writer with loomcycle's framing (sse.go): `event: <name>\ndata: <json>\n\n`,
// no id:/retry: lines, `: keepalive\n\n` comments on a timer for the life of
// the connection. It also applies a pending cut fault (after N complete frames
// or at a body byte offset, possibly inside a UTF-8 character).
import type { ServerResponse } from "node:http";
import type { CutSpec } from "./faults.js";
import type { Json } from "./store.js";
import { goJSON } from "./util.js";

export class SseStream {
  frames = 0;
  bytes = 0;
  private closed = false;
  private keepalive?: NodeJS.Timeout;
  private readonly closeHandlers: Array<() => void> = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly cut: CutSpec | undefined,
    private readonly keepaliveMs: number,
  ) {
    res.on("close", () => {
      this.closed = true;
      this.stopKeepalive();
      this.gone();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs when the connection ends for any reason other than our own end() (a cut counts as gone). */
  onClientGone(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  private gone(): void {
    for (const h of this.closeHandlers.splice(0)) h();
  }

  start(): void {
    this.res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    this.res.flushHeaders();
    if (this.keepaliveMs > 0) {
      this.keepalive = setInterval(() => this.write(": keepalive\n\n", false), this.keepaliveMs);
      this.keepalive.unref();
    }
    if (this.cut?.afterFrames === 0 || this.cut?.atByte === 0) this.applyCut(Buffer.alloc(0));
  }

  /** One frame; the data JSON is json.Marshal-compatible and single-line. */
  send(name: string, data: Json): void {
    this.write(`event: ${name}\ndata: ${goJSON(data)}\n\n`, true);
  }

  /** Resolves when the socket can take more (a Go writer blocks on a full socket too). */
  drained(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepalive();
    this.closeHandlers.splice(0);
    this.res.end();
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  private write(text: string, isFrame: boolean): void {
    if (this.closed) return;
    const buf = Buffer.from(text, "utf8");
    const atByte = this.cut?.atByte;
    if (atByte !== undefined && this.bytes + buf.length >= atByte) {
      const part = buf.subarray(0, atByte - this.bytes);
      this.bytes += part.length;
      this.applyCut(part);
      return;
    }
    this.res.write(buf);
    this.bytes += buf.length;
    if (isFrame) {
      this.frames++;
      if (this.cut?.afterFrames !== undefined && this.frames >= this.cut.afterFrames) this.applyCut(Buffer.alloc(0));
    }
  }

  /**
   * Cut the connection. "end" finishes the response cleanly (a normal EOF);
   * "destroy" closes the TCP connection mid-body (no chunked terminator), which
   * an HTTP client reports as a network error. The partial bytes are flushed
   * first so the client sees exactly the bytes up to the cut.
   */
  private applyCut(part: Buffer): void {
    this.closed = true;
    this.stopKeepalive();
    const mode = this.cut?.mode ?? "destroy";
    if (mode === "end") {
      if (part.length > 0) this.res.write(part);
      this.res.end();
      this.gone();
      return;
    }
    const socket = this.res.socket;
    const kill = (): void => {
      if (!socket || socket.destroyed) return;
      socket.end(() => socket.destroy());
      setTimeout(() => socket.destroy(), 200).unref();
    };
    if (part.length > 0) this.res.write(part, kill);
    else kill();
    this.gone();
  }
}
