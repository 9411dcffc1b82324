import * as React from 'react';

import { bestSoFar } from '../model';
import { ownerLabel } from '../owners';
import { IJobSummary, ITrialRecord } from '../types';
import { formatSeconds, formatValue } from './format';
import { ProgressBar } from './ProgressBar';
import { Sparkline } from './Sparkline';
import { StatusBadge } from './StatusBadge';

/** One job: status, backend, progress, best value, best-so-far line, warm starts. */
export function JobRow(props: {
  job: IJobSummary;
  trials: readonly ITrialRecord[];
  onSelect: (name: string) => void;
}): JSX.Element {
  const { job } = props;
  const arrow = job.direction === 'maximize' ? '↑' : '↓';
  const saved = job.startup_saved_s;
  return (
    <li className={`jp-hpo-job jp-hpo-job-${job.status}`} data-job={job.name} role="listitem">
      <button
        className="jp-hpo-job-open"
        aria-label={`Show the trials of job ${job.name}`}
        title={job.reason || job.name}
        onClick={() => props.onSelect(job.name)}
      >
        <div className="jp-hpo-job-head">
          <span className="jp-hpo-job-name">{job.name}</span>
          <StatusBadge status={job.status} reason={job.reason} />
        </div>
        <div className="jp-hpo-job-meta">
          <span className="jp-hpo-backend" data-testid="hpo-job-backend">
            {job.backend ?? '–'}
          </span>
          <span
            className="jp-hpo-owner"
            data-testid="hpo-job-owner"
            title={job.owner ? `launched by ${ownerLabel(job.owner)}` : 'launched before owners were recorded'}
          >
            {ownerLabel(job.owner) || '–'}
          </span>
          <span className="jp-hpo-best" data-testid="hpo-job-best">
            {`${job.metric ?? 'best'} ${arrow} ${formatValue(job.best?.value)}`}
          </span>
        </div>
        <ProgressBar job={job} />
        <div className="jp-hpo-job-foot">
          <Sparkline points={bestSoFar(props.trials, job.direction)} />
          <span className="jp-hpo-warmstat" data-testid="hpo-job-warm">
            {`warm ${job.warm_starts}/${job.warm_starts + job.cold_starts}`}
            {saved !== null && saved !== undefined ? ` · saved ${formatSeconds(saved)} s` : ''}
          </span>
        </div>
      </button>
    </li>
  );
}

/** The jobs, running first. */
export function JobList(props: {
  jobs: readonly IJobSummary[];
  trials: (name: string) => readonly ITrialRecord[];
  onSelect: (name: string) => void;
}): JSX.Element {
  return (
    <ul className="jp-hpo-jobs" role="list" aria-label="Tuning jobs">
      {props.jobs.map(job => (
        <JobRow key={job.name} job={job} trials={props.trials(job.name)} onSelect={props.onSelect} />
      ))}
    </ul>
  );
}
