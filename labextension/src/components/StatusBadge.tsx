import * as React from 'react';

import { JobStatus } from '../types';

/** A job's status as a coloured label. */
export function StatusBadge(props: { status: JobStatus; reason?: string }): JSX.Element {
  return (
    <span
      className={`jp-hpo-badge jp-hpo-status-${props.status}`}
      data-testid="hpo-job-status"
      title={props.reason || props.status}
    >
      {props.status}
    </span>
  );
}
