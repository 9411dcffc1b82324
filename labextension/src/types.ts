/**
 * The JSON shapes of the jupyter-hpo REST API. They mirror `jupyter_hpo.api.summarize()` and
 * `jupyter_hpo.api.trial_record()`; keep them in step with those two functions.
 */

/** A job's status as the server reports it. */
export type JobStatus =
  | 'pending'
  | 'running'
  | 'stopping'
  | 'completed'
  | 'stopped'
  | 'failed'
  | 'stale';

/** Whether a better value is larger or smaller. */
export type Direction = 'maximize' | 'minimize';

/** A trial's state. */
export type TrialState = 'running' | 'complete' | 'pruned' | 'fail';

/** A parameter value: categorical choices may be strings, numbers, booleans or null. */
export type ParamValue = string | number | boolean | null;

/** The best complete trial of a job. */
export interface IBestTrial {
  number: number;
  value: number;
  params: Record<string, ParamValue>;
}

/** One job, as `GET jobs` lists it (`summarize()`). */
export interface IJobSummary {
  name: string;
  status: JobStatus;
  reason: string;
  backend: string | null;
  metric: string | null;
  direction: Direction;
  max_trials: number | null;
  trials: number;
  complete: number;
  pruned: number;
  failed: number;
  interrupted: number;
  running: number;
  best: IBestTrial | null;
  warm_starts: number;
  cold_starts: number;
  cold_startup_s: number | null;
  warm_startup_s: number | null;
  startup_saved_s: number | null;
  /** SageMaker jobs: training plus idle warm-pool cost in USD; null on the local backend. */
  cost_usd?: number | null;
  /** The last notes of the runner (quota, throttling, pools not released). */
  notes?: string[];
  created: number | null;
  ended: number | null;
}

/** One trial (`trial_record()`). */
export interface ITrialRecord {
  number: number;
  state: TrialState;
  value: number | null;
  params: Record<string, ParamValue>;
  worker: string | null;
  warm: boolean | null;
  startup_s: number | null;
  run_s: number | null;
  error: string | null;
  fold_mean: number | null;
  fold_std: number | null;
  interrupted: boolean;
  intermediate: Record<string, number>;
  started: number | null;
  completed: number | null;
}

/** `GET jobs` */
export interface IJobsReply {
  jobs: IJobSummary[];
}

/** `GET jobs/{name}`: the summary and the job's spec (`TuningSpec.to_dict()`). */
export interface IJobReply {
  job: IJobSummary;
  spec: Record<string, any>;
}

/** `GET jobs/{name}/trials?after=N` */
export interface ITrialsReply {
  trials: ITrialRecord[];
}

/** An error answer: `{"reason": ...}`. */
export interface IErrorReply {
  reason: string;
}
