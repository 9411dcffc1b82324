/**
 * The Pareto front of a job with several objectives, for the sidebar's job detail: each complete trial's
 * objective values (the first is its `value`, the others are in its `metrics`), and which trials are on the
 * front (`pareto` of the job summary, as the server found it). No DOM here.
 */
import { Direction, IJobSummary, ITrialRecord } from './types';

/** A complete trial at its objectives' values (null where one is missing or non-finite). */
export interface IParetoTrial {
  number: number;
  values: (number | null)[];
  onFront: boolean;
}

/** What the Pareto view shows. */
export interface IParetoView {
  objectives: { metric: string; direction: Direction }[];
  /** complete trials whose first two objectives are finite, in trial order: the scatter's dots */
  points: IParetoTrial[];
  /** the front's trials held so far, along the first objective from its best end */
  front: IParetoTrial[];
}

function finite(v: number | null | undefined): number | null {
  return v !== null && v !== undefined && Number.isFinite(v) ? v : null;
}

/** The objective values of a trial record: `value`, then `metrics[name]` for the later objectives. */
export function objectiveValues(trial: ITrialRecord, objectives: readonly { metric: string }[]): (number | null)[] {
  return objectives.map((o, i) => finite(i === 0 ? trial.value : (trial.metrics || {})[o.metric]));
}

/** The Pareto view of `job`, or null for a job with a single objective (nothing to show). */
export function paretoView(job: IJobSummary, trials: readonly ITrialRecord[]): IParetoView | null {
  const objectives = job.objectives || [];
  if (objectives.length < 2) {
    return null;
  }
  const onFront = new Set(job.pareto || []);
  const complete = trials
    .filter(t => t.state === 'complete')
    .map(t => ({ number: t.number, values: objectiveValues(t, objectives), onFront: onFront.has(t.number) }));
  const points = complete.filter(p => p.values[0] !== null && p.values[1] !== null);
  const sign = objectives[0].direction === 'maximize' ? -1 : 1;
  const front = complete
    .filter(p => p.onFront)
    .sort((a, b) => sign * ((a.values[0] ?? 0) - (b.values[0] ?? 0)) || a.number - b.number);
  return { objectives: objectives.map(o => ({ metric: o.metric, direction: o.direction })), points, front };
}
