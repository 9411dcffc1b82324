import * as React from 'react';

import { JobStatus } from '../types';

/** A job's (or a campaign's) status as a coloured label. */
export function StatusBadge(props: { status: JobStatus; reason?: string; testid?: string }): JSX.Element {
  return (
    <span
      className={`jp-hpo-badge jp-hpo-status-${props.status}`}
      data-testid={props.testid ?? 'hpo-job-status'}
      title={props.reason || props.status}
    >
      {props.status}
    </span>
  );
}
