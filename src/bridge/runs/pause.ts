// A pause another part of the code can end early: the run stream's backoff between
// re-attaches (a waiting call wakes it) and its park after a release (interest wakes it).

export class Pause {
  private timer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;

  /** Resolves after `ms` (never, without it) or at wake(), whichever comes first. */
  wait(ms?: number): Promise<void> {
    if (ms !== undefined && ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = () => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.wakeUp = undefined;
        resolve();
      };
      if (ms !== undefined) {
        this.timer = setTimeout(this.wakeUp, ms);
        this.timer.unref?.();
      }
    });
  }

  /** End the current wait, if any. */
  wake(): void {
    this.wakeUp?.();
  }
}
