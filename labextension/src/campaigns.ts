/**
 * Campaigns in the sidebar's job list: the jobs of one campaign (`campaign` of a job summary) as one group, with
 * its status and summary computed as `Campaign.status` and `Campaign.summary()` of `jupyter_hpo/campaign.py` do.
 * No DOM here.
 */
import { IActionPrompt, ownerLabel } from './owners';
import { Direction, IJobSummary, IOwner, JobStatus } from './types';

/** The best trial of a campaign: which job, which trial, its value and the metric it is a value of. */
export interface ICampaignBest {
  job: string;
  number: number;
  value: number;
  metric: string | null;
  direction: Direction;
}

/** What a campaign's group header says about it. */
export interface ICampaignSummary {
  /** its jobs listed */
  jobs: number;
  /** those that have finished: completed, stopped or failed */
  done: number;
  trials: number;
  warmStarts: number;
  coldStarts: number;
  /** warm starts / all starts, in [0, 1]; null before any start */
  warmShare: number | null;
  /** (mean cold start-up - mean warm start-up) x warm starts over the whole campaign; null without both */
  startupSavedS: number | null;
  /** the sum of the jobs' costs; null when no job has one (local jobs) */
  costUsd: number | null;
  /** the best among the jobs with the first job's metric and direction; null before any */
  best: ICampaignBest | null;
}

/** One campaign in the list: its name, status, jobs in campaign order and summary. */
export interface ICampaignGroup {
  kind: 'campaign';
  name: string;
  status: JobStatus;
  jobs: IJobSummary[];
  summary: ICampaignSummary;
}

/** A job that belongs to no campaign, listed on its own. */
export interface ISingleJob {
  kind: 'job';
  job: IJobSummary;
}

/** An entry of the job list. */
export type JobListEntry = ICampaignGroup | ISingleJob;

/** Statuses in the order `Campaign.status` looks for them: the first one found is the campaign's. */
const STATUS_ORDER: readonly JobStatus[] = ['running', 'stopping', 'pending', 'stale', 'failed', 'stopped'];
const FINISHED: ReadonlySet<JobStatus> = new Set<JobStatus>(['completed', 'stopped', 'failed']);

/** A campaign's status: running while a job runs, pends or stops; else the worst of stale, failed, stopped;
 * else completed. */
export function campaignStatus(jobs: readonly IJobSummary[]): JobStatus {
  const present = new Set(jobs.map(j => j.status));
  for (const status of STATUS_ORDER) {
    if (present.has(status)) {
      return status === 'stopping' || status === 'pending' ? 'running' : status;
    }
  }
  return 'completed';
}

/** Whether value `a` beats `b` (`records.better`): a non-finite `a` never does, ties do not. */
function better(a: number, b: number | null, direction: Direction): boolean {
  if (!Number.isFinite(a)) {
    return false;
  }
  if (b === null || Number.isNaN(b)) {
    return true;
  }
  return direction === 'maximize' ? a > b : a < b;
}

/** Start-up saved over the campaign, as `Campaign.summary()`: a later job may run only on warm workers, so the
 * cold start-ups of every job are the reference, not each job's own. */
function startupSaved(jobs: readonly IJobSummary[], warm: number, cold: number): number | null {
  if (!warm || !cold) {
    return null;
  }
  let coldTotal = 0;
  let warmTotal = 0;
  for (const j of jobs) {
    coldTotal += j.cold_starts ? (j.cold_startup_s ?? 0) * j.cold_starts : 0;
    warmTotal += j.warm_starts ? (j.warm_startup_s ?? 0) * j.warm_starts : 0;
  }
  return Math.max(0, coldTotal / cold - warmTotal / warm) * warm;
}

/** The summary of a campaign's jobs, given in campaign order. */
export function campaignSummary(jobs: readonly IJobSummary[]): ICampaignSummary {
  const warm = jobs.reduce((n, j) => n + j.warm_starts, 0);
  const cold = jobs.reduce((n, j) => n + j.cold_starts, 0);
  const costs = jobs.filter(j => j.cost_usd !== null && j.cost_usd !== undefined);
  let best: ICampaignBest | null = null;
  if (jobs.length > 0) {
    const { metric, direction } = jobs[0];
    for (const j of jobs) {
      if (j.best === null || j.metric !== metric || j.direction !== direction) {
        continue;
      }
      if (better(j.best.value, best ? best.value : null, direction)) {
        best = { job: j.name, number: j.best.number, value: j.best.value, metric, direction };
      }
    }
  }
  return {
    jobs: jobs.length,
    done: jobs.filter(j => FINISHED.has(j.status)).length,
    trials: jobs.reduce((n, j) => n + j.trials, 0),
    warmStarts: warm,
    coldStarts: cold,
    warmShare: warm + cold ? warm / (warm + cold) : null,
    startupSavedS: startupSaved(jobs, warm, cold),
    costUsd: costs.length ? costs.reduce((sum, j) => sum + (j.cost_usd as number), 0) : null,
    best
  };
}

/**
 * The list's entries: each campaign's jobs as one group, placed where its first job comes in `jobs` (the
 * display order: a running campaign comes first), its jobs in campaign order; other jobs as they come.
 * Pass the jobs the list shows (after the mine/all filter): a group holds only those.
 */
export function groupJobs(jobs: readonly IJobSummary[]): JobListEntry[] {
  const entries: JobListEntry[] = [];
  const groups = new Map<string, IJobSummary[]>();
  for (const job of jobs) {
    const name = job.campaign ? job.campaign.name : null;
    if (name === null) {
      entries.push({ kind: 'job', job });
      continue;
    }
    const members = groups.get(name);
    if (members) {
      members.push(job);
      continue;
    }
    const fresh = [job];
    groups.set(name, fresh);
    entries.push({ kind: 'campaign', name, status: 'completed', jobs: fresh, summary: campaignSummary([]) });
  }
  return entries.map(entry => {
    if (entry.kind === 'job') {
      return entry;
    }
    const ordered = [...entry.jobs].sort(
      (a, b) => (a.campaign?.index ?? 0) - (b.campaign?.index ?? 0) || (a.name < b.name ? -1 : 1)
    );
    return { ...entry, jobs: ordered, status: campaignStatus(ordered), summary: campaignSummary(ordered) };
  });
}

/** Whether a campaign of this status can be stopped (it runs, or its runner died) or resumed (a job did not
 * complete and none runs), as `Campaign.stop` and `Campaign.resume` allow. */
export function campaignActions(status: JobStatus): { stop: boolean; resume: boolean } {
  return {
    stop: status === 'running' || status === 'stale',
    resume: status === 'stopped' || status === 'failed' || status === 'stale'
  };
}

/** What the sidebar asks before stopping or resuming campaign `name`; `others` are the owners of its jobs that
 * are other users' (the request then carries `force`). */
export function campaignPrompt(
  action: 'stop' | 'resume',
  name: string,
  others: readonly IOwner[]
): IActionPrompt {
  const label = action === 'stop' ? 'Stop' : 'Resume';
  const effect =
    action === 'stop'
      ? 'Its running jobs stop (their running trials run again on resume) and its jobs not yet started are marked stopped.'
      : 'Its jobs that have not completed run again, in order.';
  if (others.length === 0) {
    return { title: `${label} campaign`, body: `${label} the campaign "${name}"? ${effect}`, label };
  }
  const names = [...new Set(others.map(o => ownerLabel(o) || o.name))].join(', ');
  return {
    title: `${label} a campaign with other users' jobs`,
    body: `Jobs of the campaign "${name}" belong to ${names}, not to you. ${label} it anyway? ${effect}`,
    label: `${label} anyway`
  };
}
