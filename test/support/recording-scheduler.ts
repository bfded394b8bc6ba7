import type {
  OneTimeSchedule,
  RetirementScheduler,
} from '../../lambda/aws/scheduler-retirement-schedules.js';

/**
 * A {@link RetirementScheduler} for unit tests: records every schedule asked for and answers
 * as EventBridge Scheduler would (`exists` for a name already created), or as `behaviour` says
 * for the next call.
 */
export class RecordingScheduler implements RetirementScheduler {
  /** Every call, in order (a call answered `exists` included). */
  public readonly calls: OneTimeSchedule[] = [];
  private readonly created = new Set<string>();
  private readonly next: ((schedule: OneTimeSchedule) => Promise<'created' | 'exists'>)[] = [];

  /** Replaces the answer to the next call (to fail it, or to act before answering). */
  public onNext(behaviour: (schedule: OneTimeSchedule) => Promise<'created' | 'exists'>): void {
    this.next.push(behaviour);
  }

  public async createOneTimeSchedule(schedule: OneTimeSchedule): Promise<'created' | 'exists'> {
    this.calls.push(schedule);
    const behaviour = this.next.shift();
    if (behaviour !== undefined) return behaviour(schedule);
    const key = `${schedule.groupName}/${schedule.name}`;
    if (this.created.has(key)) return 'exists';
    this.created.add(key);
    return 'created';
  }

  /** The Input of the n-th call, parsed. */
  public inputOf(index = 0): Record<string, string> {
    return JSON.parse(this.calls[index]?.input ?? '{}') as Record<string, string>;
  }
}
