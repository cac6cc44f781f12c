// One request's cancellation inside the gateway: the client leaving, or the request's total time
// running out, with the reason. It is deliberately not an AbortSignal. On Node 20 creating an
// AbortSignal costs ~5 µs (createAbortSignal replaces a fresh EventTarget's prototype), and every
// signal outlives two young-generation collections, so each one is copied into the old generation
// and brings the next full collection closer (bench/NOTES.md, eighth session); Node 24 has
// neither cost. A generation therefore makes one real AbortSignal per upstream attempt, the one
// the HTTP client needs (generation/routing.ts), instead of three.

export class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<(reason: unknown) => void> | undefined;

  /** Cancels (the first call wins) and calls the listeners, in order, synchronously. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /**
   * Calls `listener` once, when cancelled; at once if it already is (unlike an AbortSignal, which
   * never calls a listener added after it fired). Returns the function that removes it.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.aborted) {
      listener(this.reason);
      return noop;
    }
    (this.#listeners ??= []).push(listener);
    return () => {
      const i = this.#listeners?.indexOf(listener) ?? -1;
      if (i !== -1) this.#listeners!.splice(i, 1);
    };
  }

  /**
   * A real AbortController for one upstream call (the HTTP client and the SDKs need a signal),
   * aborted with this cancellation's reason; `unlink` when the call is over.
   */
  linkedController(): { controller: AbortController; unlink: () => void } {
    const controller = new AbortController();
    return { controller, unlink: this.onAbort((reason) => controller.abort(reason)) };
  }
}

const noop = (): void => {};
