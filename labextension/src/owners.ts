/** Owners in the sidebar: whose a job is, the mine/all filter, and what a stop or resume asks first. */
import { IJobSummary, IOwner } from './types';

/**
 * Whether `job` is `me`'s (the server's rule, as for `GET jobs?mine=1`): its owner's name is `me`'s, or no owner
 * is recorded (a job from before owners). Before the server has said who `me` is, only ownerless jobs are.
 */
export function isMine(job: IJobSummary, me: IOwner | null): boolean {
  const owner = job.owner ? job.owner.name : '';
  return owner === '' || (me !== null && owner === me.name);
}

/** The jobs to show: all of them, or (`mineOnly`) `me`'s. */
export function filterJobs(
  jobs: readonly IJobSummary[],
  me: IOwner | null,
  mineOnly: boolean
): readonly IJobSummary[] {
  return mineOnly ? jobs.filter(j => isMine(j, me)) : jobs;
}

/** How an owner is shown: `name@host` (as `jupyter hpo list`), `name` without a host, '' for nobody. */
export function ownerLabel(owner: IOwner | null | undefined): string {
  if (!owner || !owner.name) {
    return '';
  }
  return owner.host ? `${owner.name}@${owner.host}` : owner.name;
}

/** A stop or resume confirmation: title, text and the accept button's label. */
export interface IActionPrompt {
  title: string;
  body: string;
  label: string;
}

/**
 * What the sidebar asks before stopping or resuming job `name`; `owner` is its owner when it is another user's
 * (the request then carries `force`), else null.
 */
export function actionPrompt(
  action: 'stop' | 'resume',
  name: string,
  owner: IOwner | null
): IActionPrompt {
  const label = action === 'stop' ? 'Stop' : 'Resume';
  if (owner === null) {
    const body =
      action === 'stop'
        ? `Stop the tuning job "${name}"? Its running trials are interrupted; they run again if you resume it.`
        : `Resume the tuning job "${name}"? It continues up to its budget.`;
    return { title: `${label} job`, body, label };
  }
  const effect =
    action === 'stop'
      ? 'Its running trials are interrupted; they run again if it is resumed.'
      : 'It continues up to its budget.';
  const where = owner.host ? ` (launched on ${owner.host})` : '';
  return {
    title: `${label} ${owner.name}'s job`,
    body:
      `The tuning job "${name}" belongs to ${owner.name}${where}, not to you. ${label} it anyway? ${effect} ` +
      `You are recorded as who ${action === 'stop' ? 'stopped' : 'resumed'} it.`,
    label: `${label} anyway`
  };
}
