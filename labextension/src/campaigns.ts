/**
 * Campaigns in the sidebar's job list: the jobs of one campaign (`campaign` of a job summary) as one group, with
 * the status and summary the server computed (`campaigns` of `GET jobs`: `summarize_campaign` of
 * `jupyter_hpo/campaign.py`, so the rules live in Python only). No DOM here.
 */
import { IActionPrompt, ownerLabel } from './owners';
import { ICampaignSummary, IJobSummary, IOwner, JobStatus } from './types';

/** One campaign in the list: its name, the jobs the list shows of it in campaign order, and its summary. */
export interface ICampaignGroup {
  kind: 'campaign';
  name: string;
  jobs: IJobSummary[];
  /** the server's summary of the whole campaign (also of jobs the mine filter hides) */
  summary: ICampaignSummary;
}

/** A job that belongs to no campaign, listed on its own. */
export interface ISingleJob {
  kind: 'job';
  job: IJobSummary;
}

/** An entry of the job list. */
export type JobListEntry = ICampaignGroup | ISingleJob;

/**
 * What a group shows when the server sent no summary of its campaign (a server from before `campaigns`): status
 * 'pending', which offers neither stop nor resume, and nothing counted, rather than figures worked out here.
 */
export function unknownSummary(name: string): ICampaignSummary {
  return {
    name,
    status: 'pending',
    metric: null,
    direction: null,
    jobs: [],
    done: 0,
    trials: 0,
    complete: 0,
    warm_starts: 0,
    cold_starts: 0,
    warm_share: null,
    startup_saved_s: null,
    cost_usd: null,
    best: null
  };
}

/**
 * The list's entries: each campaign's jobs as one group, placed where its first job comes in `jobs` (the
 * display order: a running campaign comes first), its jobs in campaign order, with its summary from `campaigns`
 * (the server's, by name); other jobs as they come. Pass the jobs the list shows (after the mine/all filter): a
 * group lists only those.
 */
export function groupJobs(
  jobs: readonly IJobSummary[],
  campaigns: Readonly<Record<string, ICampaignSummary>>
): JobListEntry[] {
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
    // an own key only: a campaign may be called 'constructor'
    const summary = Object.prototype.hasOwnProperty.call(campaigns, name) ? campaigns[name] : unknownSummary(name);
    entries.push({ kind: 'campaign', name, jobs: fresh, summary });
  }
  for (const members of groups.values()) {
    members.sort((a, b) => (a.campaign?.index ?? 0) - (b.campaign?.index ?? 0) || (a.name < b.name ? -1 : 1));
  }
  return entries;
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
