/**
 * What the sidebar says while a job has no parameter importance yet: how many trials the server's estimate
 * (`jupyter_hpo.analytics.importance`) counts so far, counted from the trial records as it counts them. No DOM.
 */
import { ITrialRecord } from './types';

/** The trials importance needs (`analytics.MIN_TRIALS_FOR_IMPORTANCE`). */
export const MIN_TRIALS_FOR_IMPORTANCE = 5;

/** How many fold scores a trial reported, from fold 1 up to the first one missing or non-finite. */
function foldCount(trial: ITrialRecord): number {
  const byStep = new Map<number, number | null>();
  for (const [step, value] of Object.entries(trial.intermediate || {})) {
    byStep.set(Number(step), value);
  }
  let n = 0;
  while (Number.isFinite(byStep.get(n) ?? NaN)) {
    n++;
  }
  return n;
}

/**
 * The trials importance counts (`analytics._scored`): the complete trials with a value; but when some pruned
 * trial reported fold scores, every complete or pruned trial that reported them. A trial reported folds when
 * it has a `fold_mean` (`trial.folds`), or any intermediate values in a job whose `early_stopping` is `kfold*`.
 *
 * Args: `trials`, the job's trial records; `spec`, its spec as `GET jobs/{name}` gives it (null before).
 */
export function importanceCount(trials: readonly ITrialRecord[], spec: Record<string, any> | null): number {
  const kfold = String(spec ? spec.early_stopping : '').startsWith('kfold');
  const reportedFolds = (t: ITrialRecord) =>
    (kfold || (t.fold_mean !== null && t.fold_mean !== undefined)) && foldCount(t) > 0;
  const complete = trials.filter(t => t.state === 'complete' && t.value !== null && t.value !== undefined);
  const foldPruned = trials.filter(t => t.state === 'pruned' && reportedFolds(t));
  if (foldPruned.length === 0) {
    return complete.length;
  }
  return complete.filter(reportedFolds).length + foldPruned.length;
}

/** The importance row while the server has no shares: how many of the trials it needs it has. */
export function importanceNotYet(counted: number): string {
  if (counted < MIN_TRIALS_FOR_IMPORTANCE) {
    return `not yet: ${counted} of the ${MIN_TRIALS_FOR_IMPORTANCE} trials with a value or fold scores it needs`;
  }
  return `not yet: ${counted} trials with a value or fold scores so far`;
}
