import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { campaignKey, HpoModel } from '../model';
import { ownerLabel } from '../owners';
import { IDetailActions, JobDetail } from './JobDetail';
import { JobList } from './JobList';
import { EmptyState, ErrorMessage, NotEnabled } from './Messages';

/** Everything the view can ask for. */
export interface IViewActions extends IDetailActions {
  select(name: string): void;
  refresh(): void;
  /** Show only the user's own jobs (true) or all jobs. */
  setMineOnly(mineOnly: boolean): void;
  /** Stop or resume a campaign as a whole (after a confirmation). */
  campaignAction(action: 'stop' | 'resume', name: string): void;
}

/** The mine/all toggle, with whom the server takes the user for. */
function OwnerFilter(props: { model: HpoModel; actions: IViewActions }): JSX.Element {
  const { model, actions } = props;
  const me = ownerLabel(model.me);
  return (
    <div className="jp-hpo-filter" role="group" aria-label="Whose jobs to show">
      {[
        { mine: false, label: 'All', testid: 'hpo-show-all', title: 'Show every job in the store' },
        {
          mine: true,
          label: 'Mine',
          testid: 'hpo-show-mine',
          title: me ? `Show only the jobs ${me} launched` : 'Show only your jobs'
        }
      ].map(b => (
        <button
          key={b.testid}
          className={`jp-hpo-button jp-hpo-filter-button${model.mineOnly === b.mine ? ' jp-mod-active' : ''}`}
          data-testid={b.testid}
          aria-pressed={model.mineOnly === b.mine}
          title={b.title}
          onClick={() => actions.setMineOnly(b.mine)}
        >
          {b.label}
        </button>
      ))}
      {me && (
        <span className="jp-hpo-me" data-testid="hpo-me" title="Who this server takes you for">
          {`you: ${me}`}
        </span>
      )}
    </div>
  );
}

/** The whole sidebar: the job list, or one job's details; messages for the special states. */
export function HpoView(props: { model: HpoModel; actions: IViewActions }): JSX.Element {
  const { model, actions } = props;
  let body: JSX.Element;
  if (model.state === 'not-enabled') {
    body = <NotEnabled message={model.error ?? ''} />;
  } else if (model.selected !== null) {
    const name = model.selected;
    body = (
      <JobDetail
        name={name}
        job={model.selectedJob}
        trials={model.trials(name)}
        spec={model.spec}
        importance={model.importance}
        busy={model.isBusy(name)}
        error={model.detailError}
        actionError={model.actionError(name)}
        actions={actions}
      />
    );
  } else if (model.state === 'loading') {
    body = <div className="jp-hpo-message">Loading tuning jobs…</div>;
  } else if (model.jobs.length === 0) {
    body = model.state === 'error' ? <></> : <EmptyState />;
  } else if (model.visibleJobs.length === 0) {
    body = (
      <div className="jp-hpo-message" data-testid="hpo-none-mine">
        {`None of the ${model.jobs.length} jobs is yours. `}
        <button className="jp-hpo-button" onClick={() => actions.setMineOnly(false)}>
          Show all jobs
        </button>
      </div>
    );
  } else {
    body = (
      <JobList
        jobs={model.visibleJobs}
        campaigns={model.campaigns}
        trials={name => model.trials(name)}
        onSelect={n => actions.select(n)}
        campaignOpen={(name, status) => model.campaignOpen(name, status)}
        onToggleCampaign={(name, open) => model.setCampaignOpen(name, open)}
        campaignBusy={name => model.isBusy(campaignKey(name))}
        campaignError={name => model.actionError(campaignKey(name))}
        onCampaignAction={(action, name) => actions.campaignAction(action, name)}
      />
    );
  }
  return (
    <div className="jp-hpo-sidebar-body">
      <div className="jp-hpo-header">
        <h2 className="jp-hpo-title">Tuning jobs</h2>
        <button
          className="jp-hpo-button jp-hpo-refresh"
          aria-label="Refresh the tuning jobs"
          title="Refresh"
          onClick={() => actions.refresh()}
        >
          <refreshIcon.react tag="span" elementSize="small" />
        </button>
      </div>
      {model.selected === null && model.state !== 'not-enabled' && (
        <OwnerFilter model={model} actions={actions} />
      )}
      {model.state === 'error' && model.error && <ErrorMessage message={model.error} />}
      {body}
    </div>
  );
}
