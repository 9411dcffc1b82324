import * as React from 'react';

import { handoffBlocked } from '../registry';
import { IJobSummary, ITrialRecord } from '../types';

/** Refit and Register in the job detail: enabled once the job has finished with a complete trial. */
export function HandoffButtons(props: {
  job: IJobSummary;
  busy: boolean;
  refit(name: string): void;
  register(name: string): void;
}): JSX.Element {
  const { job } = props;
  const blocked = handoffBlocked(job.status, job);
  return (
    <>
      <button
        className="jp-hpo-button"
        data-testid="hpo-detail-refit"
        aria-label={`Refit job ${job.name}`}
        title={blocked || 'Run the best parameters once more as a refit job'}
        disabled={props.busy || !!blocked}
        onClick={() => props.refit(job.name)}
      >
        Refit
      </button>
      <button
        className="jp-hpo-button"
        data-testid="hpo-detail-register"
        aria-label={`Register the model of job ${job.name}`}
        title={blocked || "Register the refit's (or best trial's) model in MLflow or SageMaker"}
        disabled={props.busy || !!blocked}
        onClick={() => props.register(job.name)}
      >
        Register…
      </button>
    </>
  );
}

/** The best trial's artifact (its model's folder or S3 URI); for a refit job, the refit's model. */
export function ModelFact(props: { job: IJobSummary; trials: readonly ITrialRecord[] }): JSX.Element | null {
  const best = props.job.best;
  const artifact = best ? props.trials.find(t => t.number === best.number)?.artifact : null;
  if (!artifact) {
    return null;
  }
  return (
    <>
      <dt title="Where the best trial saved its model (trial.save_model)">artifact</dt>
      <dd data-testid="hpo-detail-model" className="jp-hpo-model">
        {artifact}
      </dd>
    </>
  );
}
