import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { HpoModel } from '../model';
import { IDetailActions, JobDetail } from './JobDetail';
import { JobList } from './JobList';
import { EmptyState, ErrorMessage, NotEnabled } from './Messages';

/** Everything the view can ask for. */
export interface IViewActions extends IDetailActions {
  select(name: string): void;
  refresh(): void;
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
  } else {
    body = (
      <JobList jobs={model.jobs} trials={name => model.trials(name)} onSelect={n => actions.select(n)} />
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
      {model.state === 'error' && model.error && <ErrorMessage message={model.error} />}
      {body}
    </div>
  );
}
