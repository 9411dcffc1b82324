import { caretLeftIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { BestChart } from './BestChart';
import { HandoffButtons, ModelFact } from './Handoff';
import { ErrorMessage } from './Messages';
import { formatParams, formatSeconds, formatValue } from './format';
import { ParetoFront } from './ParetoChart';
import { ProgressBar } from './ProgressBar';
import { StatusBadge } from './StatusBadge';
import { TrialTable } from './TrialTable';
import { importanceCount, importanceNotYet } from '../importance';
import { seededText } from '../marks';
import { ownerLabel } from '../owners';
import { paretoView } from '../pareto';
import { IActor, IImportance, IJobSummary, ITrialRecord } from '../types';

/** What a user can do from the detail view. */
export interface IDetailActions {
  back(): void;
  stop(name: string): void;
  resume(name: string): void;
  openInNotebook(name: string): void;
  refit(name: string): void;
  register(name: string): void;
}

const STOPPABLE = new Set(['pending', 'running', 'stale']);
const RESUMABLE = new Set(['stopped', 'failed', 'stale']);

/** Who stopped or resumed a job, and when: `alice@host, 14:02:11 (through Jupyter)`. */
function actorText(actor: IActor): string {
  const when = actor.time !== null ? `, ${new Date(actor.time * 1000).toLocaleString()}` : '';
  return `${ownerLabel(actor) || 'unknown'}${when}${actor.via === 'rest' ? ' (through Jupyter)' : ''}`;
}

/** Each parameter's share, largest first (as the server orders them), and what the shares rest on; before the
 * server has shares, how many of the trials it needs the job has so far. */
function Importance(props: {
  importance: IImportance | null;
  trials: readonly ITrialRecord[];
  spec: Record<string, any> | null;
}): JSX.Element {
  const { importance } = props;
  if (importance === null) {
    return (
      <dd data-testid="hpo-detail-importance">{importanceNotYet(importanceCount(props.trials, props.spec))}</dd>
    );
  }
  return (
    <dd data-testid="hpo-detail-importance">
      <ul className="jp-hpo-importance">
        {Object.entries(importance.shares).map(([param, share]) => (
          <li key={param} data-param={param} title={param}>
            <span className="jp-hpo-imp-name">{param}</span> <span className="jp-hpo-imp-share">{`${(share * 100).toFixed(1)}%`}</span>
          </li>
        ))}
      </ul>
      <div className="jp-hpo-importance-note">{importance.note}</div>
    </dd>
  );
}

/** One job: its figures, best-so-far chart, trial table and Stop / Resume / Open in notebook. */
export function JobDetail(props: {
  name: string;
  job: IJobSummary | null;
  trials: readonly ITrialRecord[];
  spec: Record<string, any> | null;
  /** The job's parameter importance (`GET jobs/{name}`); null before 5 trials with a value or fold scores. */
  importance: IImportance | null;
  busy: boolean;
  error: string | null;
  actionError: string | null;
  actions: IDetailActions;
}): JSX.Element {
  const { job, name, actions } = props;
  const paramOrder = Object.keys((props.spec && props.spec.space) || {});
  const pareto = job ? paretoView(job, props.trials) : null; // null for a single objective
  return (
    <div className="jp-hpo-detail" data-job={name}>
      <div className="jp-hpo-detail-head">
        <button
          className="jp-hpo-button jp-hpo-back"
          aria-label="Back to the job list"
          title="Back to the job list"
          onClick={() => actions.back()}
        >
          <caretLeftIcon.react tag="span" elementSize="small" />
        </button>
        <h3 className="jp-hpo-detail-name">{name}</h3>
        {job && <StatusBadge status={job.status} reason={job.reason} />}
      </div>
      {job === null && !props.error && <div className="jp-hpo-message">Loading…</div>}
      {job && (
        <>
          {job.reason && <div className="jp-hpo-reason">{job.reason}</div>}
          <ProgressBar job={job} />
          <dl className="jp-hpo-facts">
            <dt>backend</dt>
            <dd>{job.backend ?? '–'}</dd>
            <dt>owner</dt>
            <dd data-testid="hpo-detail-owner">{ownerLabel(job.owner) || '–'}</dd>
            {job.stopped_by && (
              <>
                <dt>stopped by</dt>
                <dd data-testid="hpo-detail-stopped-by">{actorText(job.stopped_by)}</dd>
              </>
            )}
            {job.resumed_by && (
              <>
                <dt>resumed by</dt>
                <dd data-testid="hpo-detail-resumed-by">{actorText(job.resumed_by)}</dd>
              </>
            )}
            <dt>best</dt>
            <dd data-testid="hpo-detail-best">
              {job.best
                ? `${job.metric ?? 'value'} ${formatValue(job.best.value)} (trial ${job.best.number})`
                : '–'}
            </dd>
            {job.best && (
              <>
                <dt>params</dt>
                <dd className="jp-hpo-best-params">{formatParams(job.best.params)}</dd>
              </>
            )}
            <ModelFact job={job} trials={props.trials} />
            {seededText(job, props.spec) && (
              <>
                <dt>seeded</dt>
                <dd
                  data-testid="hpo-detail-seeded"
                  title="Earlier jobs' trials that seeded the sampler (warm_start); they are not this job's trials"
                >
                  <span className="jp-hpo-badge jp-hpo-mark jp-hpo-mark-seeded">seeded</span>
                  {` ${seededText(job, props.spec)} (warm start; not listed below)`}
                </dd>
              </>
            )}
            <dt>importance</dt>
            <Importance importance={props.importance} trials={props.trials} spec={props.spec} />
            <dt>warm starts</dt>
            <dd>{`${job.warm_starts} warm, ${job.cold_starts} cold`}</dd>
            <dt>start-up</dt>
            <dd>
              {`cold ${formatSeconds(job.cold_startup_s)} s, warm ${formatSeconds(job.warm_startup_s)} s, saved ${formatSeconds(job.startup_saved_s)} s`}
            </dd>
            {job.cost_usd !== null && job.cost_usd !== undefined && (
              <>
                <dt>cost</dt>
                <dd data-testid="hpo-cost">{`$${job.cost_usd.toFixed(2)}`}</dd>
              </>
            )}
            {job.notes && job.notes.length > 0 && (
              <>
                <dt>notes</dt>
                <dd className="jp-hpo-notes">{job.notes[job.notes.length - 1]}</dd>
              </>
            )}
          </dl>
          <div className="jp-hpo-actions">
            <button
              className="jp-hpo-button jp-mod-warn"
              data-testid="hpo-stop"
              aria-label={`Stop job ${name}`}
              disabled={props.busy || !STOPPABLE.has(job.status)}
              onClick={() => actions.stop(name)}
            >
              Stop
            </button>
            <button
              className="jp-hpo-button"
              data-testid="hpo-resume"
              aria-label={`Resume job ${name}`}
              disabled={props.busy || !RESUMABLE.has(job.status)}
              onClick={() => actions.resume(name)}
            >
              Resume
            </button>
            <button
              className="jp-hpo-button"
              data-testid="hpo-open-notebook"
              aria-label={`Open job ${name} in a notebook`}
              onClick={() => actions.openInNotebook(name)}
            >
              Open in notebook
            </button>
            <HandoffButtons job={job} busy={props.busy} refit={actions.refit} register={actions.register} />
          </div>
        </>
      )}
      {props.actionError && <ErrorMessage message={props.actionError} testid="hpo-action-error" />}
      {props.error && <ErrorMessage message={props.error} testid="hpo-detail-error" />}
      {job && <BestChart trials={props.trials} direction={job.direction} metric={job.metric} />}
      {pareto && <ParetoFront view={pareto} />}
      {(job || !props.error) && (
        // no table under "Job X no longer exists" (or a failed first load): "No trials yet." would be untrue
        <TrialTable
          trials={props.trials}
          paramOrder={paramOrder}
          metric={job?.metric ?? null}
          best={job?.best?.number ?? null}
        />
      )}
    </div>
  );
}
