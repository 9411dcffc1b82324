/**
 * The sidebar's state: the job list, per-job trial caches, the selected job, and a poll loop
 * whose interval adapts to activity and which pauses while the panel is hidden. No DOM here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IHpoClient } from './client';
import { HpoApiError } from './handler';
import { filterJobs, isMine } from './owners';
import {
  Direction,
  ICampaignSummary,
  IImportance,
  IJobReply,
  IJobSummary,
  IOwner,
  ITrialRecord,
  JobStatus
} from './types';

/** What the panel shows as a whole. */
export type LoadState = 'loading' | 'ready' | 'not-enabled' | 'error';

/** Shown when `GET jobs` answers 404: the server extension is not loaded. */
export const NOT_ENABLED_MESSAGE =
  'The jupyter-hpo server extension is not enabled: run `jupyter server extension enable jupyter_hpo`';

/** What the detail view says of a selected job that the store no longer has. */
export function goneMessage(name: string): string {
  return `Job ${name} no longer exists: it is gone from the job list.`;
}

/** Statuses in which a job may still change by itself. */
const ACTIVE: ReadonlySet<JobStatus> = new Set<JobStatus>(['pending', 'running', 'stopping']);

/** Sort rank: running jobs first, then those about to change, then the rest. */
const RANK: Partial<Record<JobStatus, number>> = { running: 0, stopping: 1, pending: 2 };

/** Options of the model. Intervals are in milliseconds. */
export interface IHpoModelOptions {
  client: IHpoClient;
  /** Poll interval while a job is active or an action is pending (default 1000). */
  activeInterval?: number;
  /** First interval once everything is idle; it doubles from there (default 2000). */
  firstIdleInterval?: number;
  /** The longest interval, when idle (default 10000). */
  idleInterval?: number;
}

/** A point of the best-so-far curve: after trial `number`, the best value was `value`. */
export interface IBestPoint {
  number: number;
  value: number;
}

/** Whether a job may still change by itself (pending, running, stopping). */
export function isActive(status: JobStatus): boolean {
  return ACTIVE.has(status);
}

/** The key of a campaign's busy state and action error (`isBusy`, `actionError`): no job name holds ':'. */
export function campaignKey(name: string): string {
  return `campaign:${name}`;
}

/** Finished trials that count towards the budget (complete, pruned, failed). */
export function doneCount(job: IJobSummary): number {
  return job.complete + job.pruned + job.failed;
}

/** Jobs in display order: running first, then stopping and pending, then newest first. */
export function sortJobs(jobs: readonly IJobSummary[]): IJobSummary[] {
  const rank = (j: IJobSummary) => RANK[j.status] ?? 3;
  return [...jobs].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (b.created ?? 0) - (a.created ?? 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/**
 * The `after=` to ask for next: just below the smallest unfinished trial (so that it is sent
 * again, finished or not), else the largest number held; -1 when nothing is held.
 */
export function afterFor(records: readonly ITrialRecord[]): number {
  let unfinished = Infinity;
  let last = -1;
  for (const r of records) {
    if (r.state === 'running' && r.number < unfinished) {
      unfinished = r.number;
    }
    last = Math.max(last, r.number);
  }
  return unfinished === Infinity ? last : unfinished - 1;
}

/** `held` with `fresh` merged in: a fresh record replaces the held one of the same number. */
export function mergeTrials(
  held: readonly ITrialRecord[],
  fresh: readonly ITrialRecord[]
): ITrialRecord[] {
  if (fresh.length === 0) {
    return held as ITrialRecord[];
  }
  const byNumber = new Map<number, ITrialRecord>();
  for (const r of held) {
    byNumber.set(r.number, r);
  }
  for (const r of fresh) {
    byNumber.set(r.number, r);
  }
  return [...byNumber.values()].sort((a, b) => a.number - b.number);
}

/** The best value after each complete trial, in trial order. */
export function bestSoFar(
  records: readonly ITrialRecord[],
  direction: Direction
): IBestPoint[] {
  const points: IBestPoint[] = [];
  let best: number | null = null;
  for (const r of records) {
    if (r.state !== 'complete' || r.value === null || !Number.isFinite(r.value)) {
      continue;
    }
    if (r.feasible === false) {
      continue; // broke a constraint: never the best (records.competes)
    }
    if (best === null || (direction === 'maximize' ? r.value > best : r.value < best)) {
      best = r.value;
    }
    points.push({ number: r.number, value: best });
  }
  return points;
}

/** The names of the extra metrics the trials returned (beside the objective's value), in first-seen order. */
export function metricNames(records: readonly ITrialRecord[]): string[] {
  const names = new Set<string>();
  for (const r of records) {
    for (const k of Object.keys(r.metrics || {})) {
      names.add(k);
    }
  }
  return [...names];
}

/** The sidebar's trial table shows at most this many trials, as the dashboard's does: a job may have thousands. */
export const TABLE_MAX = 200;

/**
 * The trials the sidebar's table shows, newest first: the latest `max`, then the best trial (`best`, its number) if
 * it is older, so that the table always has it; `note` says what is left out ('' when nothing is).
 * `records` are in number order (mergeTrials).
 */
export function tableRows(
  records: readonly ITrialRecord[],
  best: number | null | undefined,
  max = TABLE_MAX
): { rows: ITrialRecord[]; note: string } {
  const newest = [...records].reverse();
  if (newest.length <= max) {
    return { rows: newest, note: '' };
  }
  const rows = newest.slice(0, max);
  const older = best === null || best === undefined ? undefined : newest.slice(max).find(r => r.number === best);
  const also = older ? `, and the best (trial ${older.number})` : '';
  return {
    rows: older ? [...rows, older] : rows,
    note: `Showing the latest ${max} of ${records.length} trials${also}.`
  };
}

/** A readable message for an error thrown by the client. */
export function describeError(error: unknown): string {
  if (error instanceof HpoApiError) {
    return error.reason;
  }
  return error instanceof Error ? error.message : String(error);
}

function statusOf(error: unknown): number | null {
  return error instanceof HpoApiError ? error.status : null;
}

/** The state of the sidebar, refreshed by polling; `changed` fires after every change. */
export class HpoModel {
  constructor(options: IHpoModelOptions) {
    this._client = options.client;
    this._activeInterval = options.activeInterval ?? 1000;
    this._firstIdleInterval = options.firstIdleInterval ?? 2000;
    this._idleInterval = options.idleInterval ?? 10000;
    this._interval = this._activeInterval;
  }

  /** Fires after any change of state. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get state(): LoadState {
    return this._state;
  }

  /** The message of the last failed `GET jobs`, or null. */
  get error(): string | null {
    return this._error;
  }

  /** Jobs in display order. */
  get jobs(): readonly IJobSummary[] {
    return this._jobs;
  }

  /** The jobs the list shows: all, or with `mineOnly` the user's own (in display order). */
  get visibleJobs(): readonly IJobSummary[] {
    return filterJobs(this._jobs, this._me, this._mineOnly);
  }

  /**
   * The summary of each campaign of the jobs, by name (`campaigns` of the last `GET jobs`: computed by the server,
   * each from all the campaign's jobs); empty until the first answer, and from a server that sends none.
   */
  get campaigns(): Readonly<Record<string, ICampaignSummary>> {
    return this._campaigns;
  }

  /** Who the server takes this user for (`me` of `GET jobs`); null until the first answer. */
  get me(): IOwner | null {
    return this._me;
  }

  /** Whether the list shows only the user's own jobs (default: all jobs). */
  get mineOnly(): boolean {
    return this._mineOnly;
  }

  /** Show only the user's own jobs, or all. */
  setMineOnly(mineOnly: boolean): void {
    if (mineOnly !== this._mineOnly) {
      this._mineOnly = mineOnly;
      this._emit();
    }
  }

  /**
   * Whether campaign `name`'s group shows its jobs: as the user last set it, else as when the list first showed
   * the campaign (unfolded if it was running then, and left so when it ends while in view).
   */
  campaignOpen(name: string, status: JobStatus): boolean {
    let open = this._campaignOpen.get(name);
    if (open === undefined) {
      open = status === 'running';
      this._campaignOpen.set(name, open);
    }
    return open;
  }

  /** Fold or unfold campaign `name`'s group. */
  setCampaignOpen(name: string, open: boolean): void {
    if (this._campaignOpen.get(name) !== open) {
      this._campaignOpen.set(name, open);
      this._emit();
    }
  }

  /** The owner of job `name` when it is another user's (stopping or resuming it needs `force`), else null. */
  otherOwner(name: string): IOwner | null {
    const job = this.job(name) ?? (this._detail?.job.name === name ? this._detail.job : undefined);
    return job !== undefined && !isMine(job, this._me) ? job.owner : null;
  }

  /** The job whose details are shown, or null for the list. */
  get selected(): string | null {
    return this._selected;
  }

  /** The selected job's summary (from the list, or from its detail request); null once the job is gone. */
  get selectedJob(): IJobSummary | null {
    if (this._selected === null || this._gone === this._selected) {
      return null;
    }
    return this.job(this._selected) ?? this._detail?.job ?? null;
  }

  /** The selected job's spec, once fetched. */
  get spec(): Record<string, any> | null {
    return this._detail?.spec ?? null;
  }

  /**
   * The selected job's parameter importance (`importance` of `GET jobs/{name}`), or null until 5 trials have
   * finished with a value or fold scores. Fetched again when the job's finished trials or status change.
   */
  get importance(): IImportance | null {
    return this._detail?.importance ?? null;
  }

  /** That the selected job is gone, or the message of a failed detail or trials request for it, or null. */
  get detailError(): string | null {
    if (this._selected === null) {
      return null;
    }
    if (this._gone === this._selected) {
      return goneMessage(this._selected);
    }
    return this._trialErrors.get(this._selected) ?? this._detailError;
  }

  /** The delay before the next poll, in ms. */
  get interval(): number {
    return this._interval;
  }

  /** Whether the panel is shown (polling runs only then). */
  get visible(): boolean {
    return this._visible;
  }

  /** Whether a poll is scheduled or running. */
  get polling(): boolean {
    return this._timer !== null || this._runPromise !== null;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The summary of a job in the list. */
  job(name: string): IJobSummary | undefined {
    return this._jobs.find(j => j.name === name);
  }

  /** The trials held for a job, in number order (empty until fetched). */
  trials(name: string): readonly ITrialRecord[] {
    return this._trials.get(name) ?? [];
  }

  /** Whether a stop or resume of the job is under way. */
  isBusy(name: string): boolean {
    return this._busy.has(name);
  }

  /** The message of the job's last failed stop or resume, or null. */
  actionError(name: string): string | null {
    return this._actionErrors.get(name) ?? null;
  }

  /** Show a message with the job (e.g. a failed "Open in notebook"). */
  setActionError(name: string, message: string): void {
    this._actionErrors.set(name, message);
    this._emit();
  }

  /** Show (start polling at once) or hide (stop polling) the panel. */
  setVisible(visible: boolean): void {
    if (this._disposed || visible === this._visible) {
      return;
    }
    this._visible = visible;
    if (!visible) {
      this._clearTimer();
      return;
    }
    this._interval = this._activeInterval;
    if (this._runPromise === null) {
      this._clearTimer();
      void this._run();
    }
  }

  /** Poll now (once; the loop carries on at the active interval). */
  refresh(): Promise<void> {
    this._interval = this._activeInterval;
    if (this._runPromise !== null) {
      this._again = true;
      return this._runPromise;
    }
    this._clearTimer();
    return this._run();
  }

  /** Show a job's details (`null`: back to the list). */
  select(name: string | null): void {
    if (name === this._selected) {
      return;
    }
    this._selected = name;
    this._selectedListed = name !== null && this.job(name) !== undefined;
    this._gone = null;
    this._detail = null;
    this._detailError = null;
    this._emit();
    if (name === null) {
      return;
    }
    void this._fetchDetail(name);
    if (this._visible) {
      void this.refresh();
    }
  }

  /** Ask the server to stop a job (`force`: another user's); resolves to whether it accepted. */
  stop(name: string, force = false): Promise<boolean> {
    return this._act(name, () => this._client.stopJob(name, force));
  }

  /** Ask the server to resume a job (`force`: another user's); resolves to whether it accepted. */
  resume(name: string, force = false): Promise<boolean> {
    return this._act(name, () => this._client.resumeJob(name, force));
  }

  /**
   * Stop or resume campaign `name` through `call` (a `CampaignClient` request): busy and any error are kept under
   * `campaignKey(name)`; the list is refreshed after. Resolves to whether the server accepted.
   */
  actOnCampaign(name: string, call: () => Promise<unknown>): Promise<boolean> {
    return this._act(campaignKey(name), async () => {
      await call();
      return null;
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._visible = false;
    this._clearTimer();
    Signal.clearData(this);
  }

  private async _act(name: string, call: () => Promise<IJobSummary | null>): Promise<boolean> {
    this._busy.add(name);
    this._actionErrors.delete(name);
    this._emit();
    let ok = false;
    try {
      const summary = await call();
      if (summary !== null) {
        this._replaceJob(summary);
      }
      ok = true;
    } catch (error) {
      this._actionErrors.set(name, describeError(error));
    } finally {
      this._busy.delete(name);
    }
    if (this._disposed) {
      return ok;
    }
    this._emit();
    if (this._visible) {
      void this.refresh();
    }
    return ok;
  }

  /** Fetch the selected job's detail (`GET jobs/{name}`); a later answer replaces an earlier one. */
  private async _fetchDetail(name: string): Promise<void> {
    this._detailFetching = name;
    try {
      const detail = await this._client.getJob(name);
      if (this._selected === name && !this._disposed) {
        this._detail = detail;
        this._detailError = null;
        this._emit();
      }
    } catch (error) {
      if (this._selected === name && !this._disposed) {
        this._detailError = describeError(error);
        if (statusOf(error) === 404 && this.job(name) === undefined) {
          // neither listed nor found (a listed name the REST routes do not take also answers 404: not gone)
          this._setGone(name);
        }
        this._emit();
      }
    } finally {
      if (this._detailFetching === name) {
        this._detailFetching = null;
      }
    }
  }

  /** Whether the selected job's detail is older than its listed summary (trials finished, or its status). */
  private _detailIsStale(): boolean {
    const detail = this._detail;
    const listed = this._selected === null ? undefined : this.job(this._selected);
    if (!detail || !listed || detail.job.name !== listed.name || this._detailFetching === listed.name) {
      return false;
    }
    return (
      doneCount(detail.job) !== doneCount(listed) ||
      detail.job.status !== listed.status ||
      detail.job.created !== listed.created // another job of that name
    );
  }

  private _replaceJob(summary: IJobSummary): void {
    const others = this._jobs.filter(j => j.name !== summary.name);
    this._jobs = sortJobs([...others, summary]);
  }

  /** One poll (again while asked to), then schedule the next one while visible. */
  private _run(): Promise<void> {
    this._timer = null;
    this._runPromise = this._loop().finally(() => {
      this._runPromise = null;
      this._interval = this._nextInterval();
      this._emit();
      this._schedule();
    });
    return this._runPromise;
  }

  private async _loop(): Promise<void> {
    do {
      this._again = false;
      await this._poll();
    } while (this._again && !this._disposed);
  }

  private _schedule(): void {
    this._clearTimer();
    if (!this._visible || this._disposed) {
      return;
    }
    this._timer = setTimeout(() => void this._run(), this._interval);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _nextInterval(): number {
    if (this._state === 'not-enabled') {
      return this._idleInterval;
    }
    const busy = this._busy.size > 0 || this._jobs.some(j => isActive(j.status));
    if (busy && this._state === 'ready') {
      return this._activeInterval;
    }
    if (this._interval < this._firstIdleInterval) {
      return this._firstIdleInterval;
    }
    return Math.min(this._idleInterval, this._interval * 2);
  }

  private async _poll(): Promise<void> {
    try {
      const reply = await this._client.listJobs();
      if (this._disposed) {
        return;
      }
      this._jobs = sortJobs(reply.jobs);
      this._campaigns = reply.campaigns ?? {};
      this._me = reply.me ?? null;
      this._state = 'ready';
      this._error = null;
    } catch (error) {
      if (this._disposed) {
        return;
      }
      if (statusOf(error) === 404) {
        this._state = 'not-enabled';
        this._error = NOT_ENABLED_MESSAGE;
        this._jobs = [];
        this._campaigns = {};
      } else {
        this._state = 'error';
        this._error = `Could not load tuning jobs: ${describeError(error)}`;
      }
      this._emit();
      return;
    }
    const names = new Set(this._jobs.map(j => j.name));
    for (const name of [...this._trials.keys(), ...this._trialErrors.keys()]) {
      if (!names.has(name)) {
        this._trials.delete(name);
        this._trialErrors.delete(name);
        this._trialsOf.delete(name);
      }
    }
    for (const job of this._jobs) {
      const held = this._trialsOf.get(job.name);
      if (held !== undefined && held !== job.created) {
        // deleted and made again under its name between two polls: another job, none of whose trials are held
        this._trials.delete(job.name);
        this._trialErrors.delete(job.name);
        this._trialsOf.delete(job.name);
      }
    }
    let refetch = this._detailIsStale();
    const selected = this._selected;
    if (selected !== null && names.has(selected)) {
      if (this._gone === selected) {
        // a job of that name was created again: a new job, whose detail is not the old one's
        this._gone = null;
        this._detailError = null;
        refetch = true;
      }
      this._selectedListed = true;
    } else if (selected !== null && this._selectedListed) {
      // listed while selected, and now not: deleted (its detail would still say e.g. "running" and offer Stop)
      this._setGone(selected);
    }
    this._emit();
    const fetches = this._jobs.filter(j => this._needsTrials(j)).map(j => this._fetchTrials(j));
    if (refetch && selected !== null) {
      fetches.push(this._fetchDetail(selected));
    }
    await Promise.all(fetches);
  }

  /** The selected job `name` no longer exists: forget its detail, so nothing of it is shown as current. */
  private _setGone(name: string): void {
    this._gone = name;
    this._selectedListed = false;
    this._detail = null;
    this._detailError = null;
  }

  private _needsTrials(job: IJobSummary): boolean {
    const held = this._trials.get(job.name);
    if (held === undefined || isActive(job.status) || job.running > 0) {
      return true;
    }
    return held.length !== job.trials || held.some(r => r.state === 'running');
  }

  private async _fetchTrials(job: IJobSummary): Promise<void> {
    let held = this._trials.get(job.name) ?? [];
    if (held.length > job.trials) {
      held = []; // fewer trials than we hold: the job was replaced; start over
    }
    try {
      const fresh = await this._client.getTrials(job.name, afterFor(held));
      if (this._disposed) {
        return;
      }
      if (this.job(job.name)?.created !== job.created) {
        // gone from the list while this request ran, or another job of that name listed: its trials were
        // dropped, keep them so
        return;
      }
      const merged = mergeTrials(held, fresh);
      this._trialsOf.set(job.name, job.created);
      this._trialErrors.delete(job.name);
      if (merged !== this._trials.get(job.name)) {
        this._trials.set(job.name, merged);
        this._emit();
      }
    } catch (error) {
      if (this._disposed || this.job(job.name) === undefined) {
        return;
      }
      this._trialErrors.set(job.name, `Could not load the trials: ${describeError(error)}`);
      this._emit();
    }
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private readonly _client: IHpoClient;
  private readonly _activeInterval: number;
  private readonly _firstIdleInterval: number;
  private readonly _idleInterval: number;
  private _interval: number;
  private _changed = new Signal<this, void>(this);
  private _state: LoadState = 'loading';
  private _error: string | null = null;
  private _jobs: IJobSummary[] = [];
  private _campaigns: Record<string, ICampaignSummary> = {};
  private _me: IOwner | null = null;
  private _mineOnly = false;
  private _campaignOpen = new Map<string, boolean>();
  private _trials = new Map<string, ITrialRecord[]>();
  /** When the job whose trials `_trials` holds under each name was made (its `created`) */
  private _trialsOf = new Map<string, number | null>();
  private _trialErrors = new Map<string, string>();
  private _selected: string | null = null;
  private _detail: IJobReply | null = null;
  private _detailFetching: string | null = null;
  private _detailError: string | null = null;
  /** The selected job when it has been found gone (see goneMessage), else null. */
  private _gone: string | null = null;
  /** Whether a job list has held the selected job since it was selected (its absence then means it is gone). */
  private _selectedListed = false;
  private _busy = new Set<string>();
  private _actionErrors = new Map<string, string>();
  private _visible = false;
  private _disposed = false;
  private _again = false;
  private _runPromise: Promise<void> | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
