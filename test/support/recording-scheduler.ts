import type {
  ExistingSchedule,
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
  private readonly created = new Map<string, ExistingSchedule>();
  private readonly next: ((schedule: OneTimeSchedule) => Promise<'created' | 'exists'>)[] = [];

  /** Replaces the answer to the next call (to fail it, or to act before answering). */
  public onNext(behaviour: (schedule: OneTimeSchedule) => Promise<'created' | 'exists'>): void {
    this.next.push(behaviour);
  }

  public async createOneTimeSchedule(schedule: OneTimeSchedule): Promise<'created' | 'exists'> {
    this.calls.push(schedule);
    const behaviour = this.next.shift();
    const key = `${schedule.groupName}/${schedule.name}`;
    const result =
      behaviour === undefined
        ? this.created.has(key)
          ? 'exists'
          : 'created'
        : await behaviour(schedule);
    if (result === 'exists' || this.created.has(key)) return result;
    this.created.set(key, {
      ...schedule,
      state: 'ENABLED',
      flexibleTimeWindowMode: 'OFF',
      otherSettings: [],
      at: new Date(Math.floor(schedule.at.getTime() / 1_000) * 1_000),
    });
    return result;
  }

  public getOneTimeSchedule(
    name: string,
    groupName: string,
  ): Promise<ExistingSchedule | undefined> {
    return Promise.resolve(this.created.get(`${groupName}/${name}`));
  }

  /** A schedule someone else created under that name (a squatter), as GetSchedule shows it. */
  public plant(schedule: ExistingSchedule): void {
    this.created.set(`${schedule.groupName}/${schedule.name}`, schedule);
  }

  /** The Input of the n-th call, parsed. */
  public inputOf(index = 0): Record<string, string> {
    return JSON.parse(this.calls[index]?.input ?? '{}') as Record<string, string>;
  }
}
