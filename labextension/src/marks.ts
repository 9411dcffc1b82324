/**
 * The marks the sidebar's job detail puts on trials and jobs, as plain data (no DOM): infeasible trials
 * (`constraints`), re-runs of interrupted trials, and the earlier jobs' trials that seeded a job's sampler
 * (`warm_start`).
 */
import { IJobSummary, ITrialRecord } from './types';

/** What the mark means, for the legend under the trial table. */
export const INFEASIBLE_MEANING = 'complete, but broke a constraint: never the best';

/** A mark on one trial: its label and what it means (a tooltip). */
export interface ITrialMark {
  kind: 'infeasible' | 'rerun';
  label: string;
  title: string;
}

/**
 * The mark of a trial that runs an interrupted trial's parameters again (`rerun_of`): a stop or a runner that died
 * interrupted that trial, and the resume ran it again; null for any other trial. The dashboard widget shows the
 * same mark (its own copy in dashboard.ts, which imports nothing at run time; a jest test keeps them equal).
 */
export function rerunMark(rerunOf: number | null | undefined): ITrialMark | null {
  if (rerunOf === null || rerunOf === undefined) {
    return null;
  }
  return {
    kind: 'rerun',
    label: `re-run of ${rerunOf}`,
    title:
      `runs trial ${rerunOf} again with its parameters: trial ${rerunOf} was interrupted (its job was stopped or ` +
      'its runner died), and the resume ran it again'
  };
}

/**
 * The marks of one trial: `infeasible` when it broke a constraint, with the constraints it broke; `rerun` when it
 * re-runs an interrupted trial.
 */
export function trialMarks(t: ITrialRecord): ITrialMark[] {
  const marks: ITrialMark[] = [];
  if (t.feasible === false) {
    const broke = (t.violations || []).join('; ') || 'a constraint';
    marks.push({ kind: 'infeasible', label: 'infeasible', title: `${INFEASIBLE_MEANING} (broke ${broke})` });
  }
  const rerun = rerunMark(t.rerun_of);
  return rerun ? [...marks, rerun] : marks;
}

/** The earlier jobs named by a job's spec (`warm_start: {from: [...]}`), or none. */
export function seededSources(spec: Record<string, any> | null | undefined): string[] {
  const from = spec && spec.warm_start && spec.warm_start.from;
  return Array.isArray(from) ? from.filter((n: unknown): n is string => typeof n === 'string') : [];
}

/**
 * What the detail says of a warm-started job: `6 trials from first, other`. The seeded trials are the earlier
 * jobs' (they seeded the sampler), so they are not among this job's trials; null when nothing was seeded.
 */
export function seededText(job: IJobSummary, spec: Record<string, any> | null | undefined): string | null {
  if (!job.seeded) {
    return null;
  }
  const sources = seededSources(spec);
  const trials = `${job.seeded} trial${job.seeded === 1 ? '' : 's'}`;
  return sources.length ? `${trials} from ${sources.join(', ')}` : trials;
}

/**
 * The objective's column name in the trial table: its metric, said to be the objective when a parameter has the
 * same name (two "x" columns, one of them the value, could not be told apart). The dashboard has its own copy
 * (dashboard.ts imports nothing at run time); a jest test keeps them equal.
 */
export function objectiveLabel(metric: string | null | undefined, params: readonly string[], none = 'value'): string {
  const name = metric || none;
  return params.includes(name) ? `${name} (objective)` : name;
}
