import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryStrategyV2, StandardRetryBackoffStrategy } from '@smithy/types';
import { VirtualClock, type Clock } from './clock.js';
import type { SeededRandom } from './random.js';

/** Jittered exponential backoff like the SDK's, spent on a virtual clock instead of setTimeout. */
export class VirtualClockBackoff implements StandardRetryBackoffStrategy {
  private base = 50;

  public constructor(
    private readonly clock: VirtualClock,
    private readonly random: SeededRandom,
  ) {}

  public computeNextBackoffDelay(retryCount: number): number {
    this.clock.advance(
      Math.floor(this.random.next() * Math.min(this.base * 2 ** retryCount, 20_000)),
    );
    return 0;
  }

  public setDelayBase(delayBase: number): void {
    this.base = delayBase;
  }
}

/**
 * The SDK's standard retry strategy with `maxAttempts`; on a virtual clock its backoff advances
 * the clock (with seeded jitter) instead of waiting.
 */
export const createRetryStrategy = (
  clock: Clock,
  jitter: SeededRandom,
  maxAttempts: number,
): RetryStrategyV2 =>
  clock instanceof VirtualClock
    ? new StandardRetryStrategy({ maxAttempts, backoff: new VirtualClockBackoff(clock, jitter) })
    : new StandardRetryStrategy(maxAttempts);
