import * as React from 'react';

import { doneCount } from '../model';
import { IJobSummary } from '../types';

/** Finished trials against the budget, as a bar and as "done/max". */
export function ProgressBar(props: { job: IJobSummary }): JSX.Element {
  const { job } = props;
  const done = doneCount(job);
  const max = job.max_trials ?? Math.max(done, 1);
  const percent = Math.min(100, Math.round((100 * done) / Math.max(max, 1)));
  const label = job.max_trials === null ? `${done}` : `${done}/${job.max_trials}`;
  return (
    <div className="jp-hpo-progress-row">
      <div
        className="jp-hpo-progress"
        role="progressbar"
        aria-label={`Trials of ${job.name}`}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={done}
      >
        <div className="jp-hpo-progress-bar" style={{ width: `${percent}%` }} />
      </div>
      <span
        className="jp-hpo-trials"
        data-testid="hpo-job-trials"
        title={`${job.complete} complete, ${job.pruned} pruned, ${job.failed} failed, ${job.running} running`}
      >
        {label}
      </span>
    </div>
  );
}
