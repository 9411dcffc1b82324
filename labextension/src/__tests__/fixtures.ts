/** Test data shared by the specs: a whole job summary, as `GET jobs` sends one, and a whole trial record. */
import { IJobSummary, ITrialRecord } from '../types';

/** A job summary with every field `GET jobs` sends: a local job maximizing auc with nothing run, then `over`. */
export function jobSummary(name: string, over: Partial<IJobSummary> = {}): IJobSummary {
  return {
    name,
    status: 'completed',
    reason: '',
    backend: 'local',
    metric: 'auc',
    direction: 'maximize',
    max_trials: 10,
    trials: 0,
    complete: 0,
    pruned: 0,
    failed: 0,
    interrupted: 0,
    reruns_left: 0,
    running: 0,
    best: null,
    objectives: [{ metric: 'auc', direction: 'maximize' }],
    pareto: null,
    seeded: 0,
    warm_starts: 0,
    cold_starts: 0,
    cold_startup_s: null,
    warm_startup_s: null,
    startup_saved_s: null,
    cost_usd: null,
    notes: [],
    created: 1000,
    ended: null,
    owner: null,
    stopped_by: null,
    resumed_by: null,
    campaign: null,
    nonfinite: {},
    ...over
  };
}

/** A complete local trial record with every field `GET jobs/{name}/trials` sends, then `over`. */
export function trialRecord(number: number, over: Partial<ITrialRecord> = {}): ITrialRecord {
  return {
    number,
    state: 'complete',
    value: null,
    params: {},
    worker: 'local-0',
    warm: false,
    startup_s: 0.1,
    reused_from: null,
    run_s: 0.5,
    error: null,
    fold_mean: null,
    fold_std: null,
    interrupted: false,
    rerun_of: null,
    cost_usd: null,
    cloud: null,
    intermediate: {},
    started: 1,
    completed: 2,
    artifact: null,
    feasible: null,
    violations: [],
    metrics: {},
    nonfinite: {},
    ...over
  };
}
