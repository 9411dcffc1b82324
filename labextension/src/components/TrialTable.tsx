import * as React from 'react';

import { INFEASIBLE_MEANING, trialMarks } from '../marks';
import { objectiveLabel } from '../marks';
import { metricNames, tableRows } from '../model';
import { describeNonFinite } from '../nonfinite';
import { ITrialRecord } from '../types';
import { formatParam, formatSeconds, formatValue } from './format';

/** Parameter names in first-seen order (the spec's order when it is known). */
function paramNames(trials: readonly ITrialRecord[], specOrder: readonly string[]): string[] {
  const names = new Set<string>(specOrder);
  for (const t of trials) {
    for (const k of Object.keys(t.params)) {
      names.add(k);
    }
  }
  return [...names];
}

/** The trial's error, and which of its numbers were non-finite (the server sends them as null). */
function note(t: ITrialRecord): string {
  return [t.error, describeNonFinite(t.nonfinite)].filter(Boolean).join('; ');
}

/**
 * The latest 200 trials and the best, newest first: number, state, value, parameters, warm/cold, start-up and run
 * time; a note when trials are left out (a table of thousands of rows would stall the sidebar).
 */
export function TrialTable(props: {
  trials: readonly ITrialRecord[];
  paramOrder?: readonly string[];
  metric: string | null;
  /** the number of the job's best trial, always shown */
  best?: number | null;
}): JSX.Element {
  const { rows, note: cut } = tableRows(props.trials, props.best);
  const names = paramNames(rows, props.paramOrder ?? []);
  const metrics = metricNames(rows);
  const infeasible = rows.some(t => trialMarks(t).some(m => m.kind === 'infeasible'));
  return (
    <>
      {cut && (
        <div className="jp-hpo-legend" data-testid="hpo-trial-table-note">
          {cut}
        </div>
      )}
      <div className="jp-hpo-table-wrap">
        <table className="jp-hpo-table" data-testid="hpo-trial-table" aria-label="Trials">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">state</th>
              <th scope="col">{objectiveLabel(props.metric, names)}</th>
              {metrics.map(m => (
                <th scope="col" key={`m-${m}`} className="jp-hpo-metric" title="a metric the trial returned">
                  {m}
                </th>
              ))}
              {names.map(n => (
                <th scope="col" key={`p-${n}`}>
                  {n}
                </th>
              ))}
              <th scope="col">start</th>
              <th scope="col" title="start-up seconds">start-up s</th>
              <th scope="col" title="run seconds">run s</th>
              <th scope="col">note</th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={names.length + metrics.length + 7} className="jp-hpo-table-empty">
                  No trials yet.
                </td>
              </tr>
            )}
            {rows.map(t => (
              <tr key={t.number} className={`jp-hpo-trial jp-hpo-trial-${t.state}`} data-trial={t.number}>
                <td>{t.number}</td>
                <td>
                  <span className={`jp-hpo-badge jp-hpo-state-${t.state}`}>
                    {t.interrupted ? 'interrupted' : t.state}
                  </span>
                  {trialMarks(t).map(m => (
                    <span
                      key={m.kind}
                      className={`jp-hpo-badge jp-hpo-mark jp-hpo-mark-${m.kind}`}
                      title={m.title}
                      data-mark={m.kind}
                    >
                      {m.label}
                    </span>
                  ))}
                </td>
                <td className="jp-hpo-num">{formatValue(t.value)}</td>
                {metrics.map(m => (
                  <td key={`m-${m}`} className="jp-hpo-num jp-hpo-metric" data-metric={m}>
                    {formatValue((t.metrics || {})[m])}
                  </td>
                ))}
                {names.map(n => (
                  <td key={`p-${n}`} className="jp-hpo-param">
                    {formatParam(t.params[n])}
                  </td>
                ))}
                <td>
                  {t.warm === null ? (
                    '–'
                  ) : (
                    <span className={`jp-hpo-badge ${t.warm ? 'jp-hpo-warm' : 'jp-hpo-cold'}`}>
                      {t.warm ? 'warm' : 'cold'}
                    </span>
                  )}
                </td>
                <td className="jp-hpo-num">{formatSeconds(t.startup_s)}</td>
                <td className="jp-hpo-num">{formatSeconds(t.run_s)}</td>
                <td className="jp-hpo-note" title={note(t)}>
                  {note(t)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {infeasible && (
          <div className="jp-hpo-legend" data-testid="hpo-trial-legend">
            <span className="jp-hpo-badge jp-hpo-mark jp-hpo-mark-infeasible">infeasible</span>
            {` ${INFEASIBLE_MEANING}`}
          </div>
        )}
      </div>
    </>
  );
}
