import * as React from 'react';

import { campaignActions, groupJobs, ICampaignGroup } from '../campaigns';
import { bestSoFar } from '../model';
import { ownerLabel } from '../owners';
import { ICampaignSummary, IJobSummary, ITrialRecord, JobStatus } from '../types';
import { formatSeconds, formatValue } from './format';
import { ErrorMessage } from './Messages';
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

/** A campaign's summary line, from the server's summary: jobs done, trials, warm share, start-up saved, cost. */
function campaignFacts(s: ICampaignSummary): string {
  const parts = [`jobs ${s.done}/${s.jobs.length}`, `trials ${s.trials}`];
  parts.push(
    s.warm_share === null
      ? 'warm –'
      : `warm ${Math.round(s.warm_share * 100)}% (${s.warm_starts}/${s.warm_starts + s.cold_starts})`
  );
  if (s.startup_saved_s !== null) {
    parts.push(`saved ${formatSeconds(s.startup_saved_s)} s`);
  }
  if (s.cost_usd !== null) {
    parts.push(`$${s.cost_usd.toFixed(2)}`);
  }
  return parts.join(' · ');
}

/** Stop and Resume of a campaign that can be stopped or resumed (both shown, one enabled, as in a job's detail). */
function CampaignActions(props: {
  group: ICampaignGroup;
  can: { stop: boolean; resume: boolean };
  busy: boolean;
  onAction: (action: 'stop' | 'resume', name: string) => void;
}): JSX.Element {
  const { group, can } = props;
  const buttons: { action: 'stop' | 'resume'; label: string; className: string }[] = [
    { action: 'stop', label: 'Stop', className: 'jp-hpo-button jp-mod-warn' },
    { action: 'resume', label: 'Resume', className: 'jp-hpo-button' }
  ];
  return (
    <div className="jp-hpo-campaign-actions">
      {buttons.map(b => (
        <button
          key={b.action}
          className={b.className}
          data-testid={`hpo-campaign-${b.action}`}
          aria-label={`${b.label} campaign ${group.name}`}
          disabled={props.busy || !can[b.action]}
          onClick={() => props.onAction(b.action, group.name)}
        >
          {b.label}
        </button>
      ))}
    </div>
  );
}

/** A campaign: a header (name, status, summary, best) that folds its jobs, listed in campaign order. */
export function CampaignGroup(props: {
  group: ICampaignGroup;
  trials: (name: string) => readonly ITrialRecord[];
  onSelect: (name: string) => void;
  /** whether its jobs are shown */
  expanded: boolean;
  onToggle: (name: string, open: boolean) => void;
  /** a stop or resume of it is under way */
  busy: boolean;
  /** its last failed stop or resume */
  error: string | null;
  onAction: (action: 'stop' | 'resume', name: string) => void;
}): JSX.Element {
  const { group, expanded } = props;
  const { summary } = group;
  const can = campaignActions(summary.status); // a completed campaign has no action row
  const listId = `jp-hpo-campaign-jobs-${group.name}`;
  const best = summary.best;
  const arrow = summary.direction === 'maximize' ? '↑' : '↓';
  return (
    <li
      className={`jp-hpo-campaign jp-hpo-campaign-${summary.status}`}
      data-testid="hpo-campaign"
      data-campaign={group.name}
      role="listitem"
    >
      <button
        className="jp-hpo-campaign-toggle"
        data-testid="hpo-campaign-toggle"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-label={`${expanded ? 'Fold' : 'Unfold'} the jobs of campaign ${group.name}`}
        onClick={() => props.onToggle(group.name, !expanded)}
      >
        <div className="jp-hpo-campaign-head">
          <span className="jp-hpo-campaign-caret" aria-hidden="true">
            {expanded ? '▾' : '▸'}
          </span>
          <span className="jp-hpo-campaign-kind">campaign</span>
          <span className="jp-hpo-job-name" data-testid="hpo-campaign-name">
            {group.name}
          </span>
          <StatusBadge status={summary.status} testid="hpo-campaign-status" />
        </div>
        <div className="jp-hpo-campaign-facts" data-testid="hpo-campaign-summary">
          {campaignFacts(summary)}
        </div>
        <div className="jp-hpo-campaign-facts" data-testid="hpo-campaign-best">
          {best
            ? `best ${summary.metric ?? 'value'} ${arrow} ${formatValue(best.value)}: ${best.job}, trial ${best.number}`
            : 'best –'}
        </div>
      </button>
      {(can.stop || can.resume || props.busy) && (
        <CampaignActions group={group} can={can} busy={props.busy} onAction={props.onAction} />
      )}
      {props.error && <ErrorMessage message={props.error} testid="hpo-campaign-error" />}
      {expanded && (
        <ul className="jp-hpo-campaign-jobs" id={listId} role="list" aria-label={`Jobs of campaign ${group.name}`}>
          {group.jobs.map(job => (
            <JobRow key={job.name} job={job} trials={props.trials(job.name)} onSelect={props.onSelect} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** The jobs, running first; a campaign's jobs together under its header. */
export function JobList(props: {
  jobs: readonly IJobSummary[];
  /** the server's summary of each campaign, by name (`HpoModel.campaigns`) */
  campaigns: Readonly<Record<string, ICampaignSummary>>;
  trials: (name: string) => readonly ITrialRecord[];
  onSelect: (name: string) => void;
  /** whether a campaign's group is unfolded (`HpoModel.campaignOpen`) */
  campaignOpen: (name: string, status: JobStatus) => boolean;
  onToggleCampaign: (name: string, open: boolean) => void;
  /** a campaign's stop or resume: under way, its last error, and asking for one */
  campaignBusy: (name: string) => boolean;
  campaignError: (name: string) => string | null;
  onCampaignAction: (action: 'stop' | 'resume', name: string) => void;
}): JSX.Element {
  return (
    <ul className="jp-hpo-jobs" role="list" aria-label="Tuning jobs">
      {groupJobs(props.jobs, props.campaigns).map(entry =>
        entry.kind === 'job' ? (
          <JobRow
            key={entry.job.name}
            job={entry.job}
            trials={props.trials(entry.job.name)}
            onSelect={props.onSelect}
          />
        ) : (
          <CampaignGroup
            key={`campaign:${entry.name}`}
            group={entry}
            trials={props.trials}
            onSelect={props.onSelect}
            expanded={props.campaignOpen(entry.name, entry.summary.status)}
            onToggle={props.onToggleCampaign}
            busy={props.campaignBusy(entry.name)}
            error={props.campaignError(entry.name)}
            onAction={props.onCampaignAction}
          />
        )
      )}
    </ul>
  );
}
