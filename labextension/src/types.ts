/**
 * The JSON shapes of the jupyter-hpo REST API. They mirror `JobSummary` and `TrialRecord` of
 * `jupyter_hpo/records.py` and the schemas of `jupyter_hpo/server/openapi.yaml`;
 * `tests/test_records.py` checks that the field names of the interfaces below match them.
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

/** What a non-finite number was; the record holds `null` in its place. */
export type NonFiniteKind = 'nan' | 'inf' | '-inf';

/**
 * The numbers of a record that were non-finite (and are `null` in it): dotted path (`fold_mean`,
 * `intermediate.3`, `params.lr`, in a job summary `spec.trial.hyperparameters.lr`) to what it was.
 * Empty when every number is finite.
 */
export type NonFinite = Record<string, NonFiniteKind>;

/** The best complete trial of a job. */
export interface IBestTrial {
  number: number;
  value: number;
  params: Record<string, ParamValue>;
}

/**
 * Who launched a job (`Owner`), or who the server takes the sidebar's user for (`me` of `GET jobs`). `name` is
 * what it is shown and compared under: the Studio profile, else the JupyterHub user, else the OS user.
 */
export interface IOwner {
  user: string | null;
  host: string | null;
  jupyter: string | null;
  studio: string | null;
  name: string;
}

/** Who stopped or resumed a job (`Actor`): an owner, when, and `via` 'rest' through the Jupyter server. */
export interface IActor {
  user: string | null;
  host: string | null;
  jupyter: string | null;
  studio: string | null;
  name: string;
  time: number | null;
  via: string | null;
}

/** One job, as `GET jobs` lists it (`JobSummary`). */
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
  /** The interrupted trials not re-run yet (a resume re-runs them). */
  reruns_left: number;
  running: number;
  /** The best complete, feasible trial; several objectives: the Pareto front's best first objective. */
  best: IBestTrial | null;
  /** The job's objectives, first one first (one for a single objective). */
  objectives: { metric: string; direction: Direction }[];
  /** Several objectives: the numbers of the Pareto-optimal trials; null for a single objective. */
  pareto: number[] | null;
  /** Trials of earlier jobs that seeded the sampler (`warm_start.from`); not this job's own trials. */
  seeded: number;
  warm_starts: number;
  cold_starts: number;
  cold_startup_s: number | null;
  warm_startup_s: number | null;
  startup_saved_s: number | null;
  /** SageMaker jobs: training plus idle warm-pool cost in USD; null on the local backend. */
  cost_usd: number | null;
  /** The last notes of the runner (quota, throttling, pools not released). */
  notes: string[];
  created: number | null;
  ended: number | null;
  /** Who launched the job; null for a job from before owners were recorded. */
  owner: IOwner | null;
  /** Who last stopped the job, or null. */
  stopped_by: IActor | null;
  /** Who last resumed the job, or null. */
  resumed_by: IActor | null;
  /** A job run as part of a campaign: the campaign's name and the job's place in it (from 0); else null. */
  campaign: { name: string; index: number } | null;
  nonfinite: NonFinite;
}

/** The cloud facts of a SageMaker trial (`cloud` of a trial record). */
export interface ICloudFacts {
  training_job: string | null;
  status: string | null;
  warm_pool_status: string | null;
  billable_s: number | null;
  phases_s: Record<string, number | null> | null;
  failure_reason: string | null;
}

/** One trial (`TrialRecord`). */
export interface ITrialRecord {
  number: number;
  state: TrialState;
  value: number | null;
  params: Record<string, ParamValue>;
  worker: string | null;
  warm: boolean | null;
  startup_s: number | null;
  /** A campaign's job: the earlier job whose worker was handed over and ran this trial; null when not reused. */
  reused_from: string | null;
  run_s: number | null;
  error: string | null;
  fold_mean: number | null;
  fold_std: number | null;
  interrupted: boolean;
  /** A re-run of an interrupted trial: that trial's number; else null. */
  rerun_of: number | null;
  /** SageMaker trials: the training job's billable cost in USD; null on the local backend. */
  cost_usd: number | null;
  /** SageMaker trials: the training job, its warm-pool status and start-up phases; else null. */
  cloud: ICloudFacts | null;
  intermediate: Record<string, number | null>;
  started: number | null;
  completed: number | null;
  /** Where the trial's artifacts were saved: a local folder or an S3 model.tar.gz; null when none was kept. */
  artifact: string | null;
  /** A complete trial of a job with constraints: whether it met them all (never the best when not); else null. */
  feasible: boolean | null;
  /** The constraints it broke, e.g. "calibration_error=0.08 > max 0.05". */
  violations: string[];
  /** The other metrics it returned in its dict, by name (several objectives: those after the first, `value`). */
  metrics: Record<string, number | null>;
  nonfinite: NonFinite;
}

/** A campaign's job as its summary lists it: a few fields of the job's own summary. */
export interface ICampaignJob {
  name: string;
  status: JobStatus;
  reason: string;
  trials: number;
  complete: number;
  warm_starts: number;
  cold_starts: number;
  startup_saved_s: number | null;
  cost_usd: number | null;
  best: IBestTrial | null;
}

/** The best trial of a campaign: its job, and the trial as that job's `best`. */
export interface ICampaignBest extends IBestTrial {
  job: string;
}

/**
 * A campaign's summary (`CampaignSummary`: `summarize_campaign` of `jupyter_hpo/campaign.py`, what
 * `jupyter hpo campaign show NAME --json` prints). The server computes it; the sidebar only shows it.
 */
export interface ICampaignSummary {
  name: string;
  /** running while a job runs, pends or stops; else the worst of stale, failed, stopped; else completed */
  status: JobStatus;
  /** the first job's metric and direction, which `best` is taken by; null for a campaign without jobs */
  metric: string | null;
  direction: Direction | null;
  /** its jobs, in campaign order */
  jobs: ICampaignJob[];
  /** how many of its jobs ended: completed, stopped, failed or stale (its runner gone) */
  done: number;
  trials: number;
  complete: number;
  warm_starts: number;
  cold_starts: number;
  /** warm starts / all starts, in [0, 1]; null before any start */
  warm_share: number | null;
  /** (mean cold start-up - mean warm start-up) x warm starts over the whole campaign; null without both */
  startup_saved_s: number | null;
  /** the sum of its jobs' costs; null when no job has one (local jobs) */
  cost_usd: number | null;
  /** the best among the jobs with the first job's metric and direction; null before any */
  best: ICampaignBest | null;
}

/** `GET jobs[?mine=1]`: the jobs, their campaigns' summaries, and who the server takes the requester for. */
export interface IJobsReply {
  jobs: IJobSummary[];
  /** each campaign with a job in `jobs`, by name, summarized from all its jobs; absent from an older server */
  campaigns?: Record<string, ICampaignSummary>;
  me: IOwner;
}

/** The body of `POST jobs/{name}/stop` and `.../resume`: `force` to act on another user's job. */
export interface IActionRequest {
  force?: boolean;
}

/** `POST campaigns/{name}/stop` and `.../resume`: the campaign after the action (`Campaign.summary()`). */
export interface ICampaignReply {
  campaign: ICampaignSummary;
}

/** The body of `POST jobs/{name}/register` to the MLflow Model Registry. */
export interface IMlflowRegisterRequest {
  to: 'mlflow';
  model_name: string;
  /** an http(s) URL; default: the server's MLFLOW_TRACKING_URI (or the job's own tracking setting) */
  tracking_uri?: string;
  force?: boolean;
}

/** The body of `POST jobs/{name}/register` to the SageMaker Model Registry. */
export interface ISageMakerRegisterRequest {
  to: 'sagemaker';
  /** the model package group, created if needed */
  group: string;
  /** default: the job's region */
  region?: string;
  force?: boolean;
}

/** The body of `POST jobs/{name}/register`. */
export type RegisterRequest = IMlflowRegisterRequest | ISageMakerRegisterRequest;

/** `POST jobs/{name}/register`: what was registered (`Registered`). */
export interface IRegisteredReply {
  registry: 'mlflow' | 'sagemaker';
  job: string;
  /** MLflow `models:/NAME/VERSION`, or the SageMaker model package's ARN */
  uri: string;
  notes: string[];
  details: Record<string, any>;
}

/** `GET jobs/{name}`: the summary and the job's spec (`TuningSpec.to_dict()`). */
export interface IJobReply {
  job: IJobSummary;
  spec: Record<string, any>;
  /** What produced the job (`jupyter_hpo.provenance`): code and input hashes, packages, git, owner, image. */
  provenance: Record<string, any>;
  /** Parameter importance; null until 5 trials have finished with a value or fold scores. */
  importance: IImportance | null;
}

/** A job's parameter importance (`importance` of `GET jobs/{name}`, `jupyter_hpo.analytics.importance`). */
export interface IImportance {
  /** Each parameter's share, largest first, summing to 1. */
  shares: Record<string, number>;
  /** What the shares rest on: "From 3 complete and 4 pruned trials, each scored by its mean over its first 2 folds." */
  note: string;
}

/** `GET jobs/{name}/trials?after=N` */
export interface ITrialsReply {
  trials: ITrialRecord[];
}

/** An error answer: `{"reason": ...}`. */
export interface IErrorReply {
  reason: string;
}

/**
 * One trial as the live dashboard gets it (`compact_row` of `jupyter_hpo/widgets/_dashboard.py`): a trial
 * record without the cloud facts, its intermediate values as `steps: [[step, value], ...]`, and `nonfinite`
 * only when something was non-finite.
 */
export interface IDashboardRow
  extends Pick<
    ITrialRecord,
    | 'number'
    | 'state'
    | 'value'
    | 'params'
    | 'warm'
    | 'startup_s'
    | 'run_s'
    | 'error'
    | 'fold_mean'
    | 'fold_std'
    | 'interrupted'
    | 'rerun_of'
    | 'started'
    | 'completed'
  > {
  steps: [number, number | null][];
  nonfinite?: NonFinite;
}

/** The dashboard's `summary` trait: the job summary (empty before the first read) and its clock. */
export interface IDashboardSummary extends Partial<IJobSummary> {
  /** finished trials, interrupted ones not counted */
  done?: number;
  elapsed_s?: number | null;
  eta_s?: number | null;
  stop_requested?: boolean;
}

/** One parameter of a search space (`SearchSpace.to_dict()`); a bare list is a categorical. */
export interface ISpaceParam {
  type?: string;
  low?: number;
  high?: number;
  /** 'linear', 'log', 'reverse_log' (or 'auto', drawn linear) */
  scaling?: string;
  choices?: ParamValue[];
}

/** A search space: parameter name to its description. */
export type SearchSpaceDict = Record<string, ISpaceParam | ParamValue[]>;

/** One job of the compare view: summary fields and its best-so-far curve. */
export interface ICompareJob {
  name: string;
  status?: JobStatus | null;
  metric?: string | null;
  direction?: Direction | null;
  trials?: number | null;
  best?: IBestTrial | null;
  /** change points `[trials finished, seconds since the first start, best so far, trial number]` */
  curve?: [number, number, number, number][];
}
