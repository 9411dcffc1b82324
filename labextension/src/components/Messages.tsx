import * as React from 'react';

/** An inline error (the text is rendered as text). */
export function ErrorMessage(props: { message: string; testid?: string }): JSX.Element {
  return (
    <div className="jp-hpo-message jp-hpo-error" role="alert" data-testid={props.testid ?? 'hpo-error'}>
      {props.message}
    </div>
  );
}

/** The server extension is not loaded. */
export function NotEnabled(props: { message: string }): JSX.Element {
  return (
    <div className="jp-hpo-message jp-hpo-not-enabled" role="alert" data-testid="hpo-not-enabled">
      {props.message}
    </div>
  );
}

/** No job yet: how to launch one. */
export function EmptyState(): JSX.Element {
  return (
    <div className="jp-hpo-message jp-hpo-empty" data-testid="hpo-empty">
      <p>No tuning jobs yet.</p>
      <p>Launch one from a terminal:</p>
      <pre>jupyter hpo launch spec.yaml</pre>
      <p>or from a notebook:</p>
      <pre>{'%load_ext jupyter_hpo\n%hpo launch spec.yaml'}</pre>
      <p>It shows up here while it runs.</p>
    </div>
  );
}
