/**
 * Time as the relay's timing logic sees it. Injected everywhere a delay is decided, so that
 * retry and backoff are tested with a fake clock instead of real elapsed milliseconds.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; only differences are meaningful. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (clearing the timer). Never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Runs `task` every `ms` until the returned function is called; periodic work (ticks,
   * pruning, reports) keeps nothing alive by itself, so a relay that is closed can exit.
   */
  every(ms: number, task: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      // Not unref'd: a shutdown deadline must fire even when nothing else is alive. Every
      // sleep of the relay takes a signal that destroy/shutdown aborts, which clears it.
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  },
  every(ms, task) {
    const timer = setInterval(task, ms).unref();
    return () => {
      clearInterval(timer);
    };
  },
};
