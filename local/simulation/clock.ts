/**
 * The clock shared by the simulation and the rotation handler under test. The handler uses it
 * for its own waits and deadlines; the simulation uses it for key ages, propagation delays,
 * Lambda deadlines, simulated timeouts and the SDK's retry backoff.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves once `ms` milliseconds have passed on this clock. */
  sleep(ms: number): Promise<void>;
}

/** 2026-01-01T00:00:00Z: a fixed start, so virtual scenarios are reproducible. */
export const DEFAULT_VIRTUAL_EPOCH = Date.UTC(2026, 0, 1);

/**
 * The promise of a virtual sleep: the clock advances only once someone waits on it (`await`,
 * `then`, `Promise.race`...), so a sleep whose promise is dropped (a missing `await`) leaves
 * the clock where it was, and the wait it stood for visibly did not happen.
 */
class AwaitedSleep extends Promise<void> {
  // Promises derived from it (then, catch, finally) are plain promises.
  public static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  private start: (() => void) | undefined;

  public constructor(
    executor: (resolve: () => void) => void,
    start?: () => void,
  ) {
    super(executor);
    this.start = start;
  }

  public override then<TResult1 = void, TResult2 = never>(
    // The signature of Promise<void>.then, which it overrides.
    // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
    onfulfilled?: ((value: void) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    const start = this.start;
    this.start = undefined;
    start?.();
    return super.then(onfulfilled, onrejected);
  }
}

/**
 * Time that passes only when someone sleeps: an awaited `sleep(ms)` advances the clock by `ms` at
 * once and then yields to the event loop, so thousands of scenarios with multi-second
 * propagation delays run in milliseconds. The clock advances when the sleep is waited on, not
 * when it is called: a `sleep` nobody awaits does not move time (a missing `await` shows).
 *
 * Concurrent sleepers each advance the clock: two tasks sleeping 1 s at the same time advance it
 * by 2 s. Time never goes backwards, which is all the simulation's rules need.
 */
export class VirtualClock implements Clock {
  private current: number;

  public constructor(start: number = DEFAULT_VIRTUAL_EPOCH) {
    this.current = start;
  }

  public now(): number {
    return this.current;
  }

  public sleep(ms: number): Promise<void> {
    let resolve!: () => void;
    return new AwaitedSleep(
      (done) => {
        resolve = done;
      },
      () => {
        this.advance(ms);
        setImmediate(resolve);
      },
    );
  }

  /** Moves the clock forward without yielding. Negative or non-finite values are ignored. */
  public advance(ms: number): void {
    if (Number.isFinite(ms) && ms > 0) this.current += ms;
  }
}

/** Wall-clock time, for the `npm start` demo: waits take as long as they say. */
export class RealClock implements Clock {
  public now(): number {
    return Date.now();
  }

  public sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
  }
}
