/** Test data shared by the specs: a whole job summary, as `GET jobs` sends one. */
import { IJobSummary } from '../types';

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
