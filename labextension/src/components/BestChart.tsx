import * as React from 'react';

import { bestSoFar } from '../model';
import { Direction, ITrialRecord } from '../types';
import { formatValue } from './format';

const W = 300;
const H = 140;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

/** Every complete trial's value (dots) and the best value so far (a step line). */
export function BestChart(props: {
  trials: readonly ITrialRecord[];
  direction: Direction;
  metric: string | null;
}): JSX.Element {
  const done = props.trials.filter(
    t => t.state === 'complete' && t.value !== null && Number.isFinite(t.value)
  );
  const best = bestSoFar(props.trials, props.direction);
  const metric = props.metric ?? 'value';
  if (done.length === 0) {
    return (
      <div className="jp-hpo-chart jp-hpo-chart-empty" data-testid="hpo-best-chart">
        No complete trial yet.
      </div>
    );
  }
  const xs = done.map(t => t.number);
  const ys = done.map(t => t.value as number);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) {
    [y0, y1] = [y0 - 1, y1 + 1];
  }
  const sx = (x: number) =>
    x1 === x0 ? (PAD.left + W - PAD.right) / 2 : PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const steps: string[] = [];
  best.forEach((p, i) => {
    if (i > 0) {
      steps.push(`${sx(p.number).toFixed(1)},${sy(best[i - 1].value).toFixed(1)}`);
    }
    steps.push(`${sx(p.number).toFixed(1)},${sy(p.value).toFixed(1)}`);
  });
  const last = best[best.length - 1];
  const label = `${metric} of ${done.length} complete trials; best so far ${formatValue(last.value)} (${props.direction})`;
  return (
    <svg
      className="jp-hpo-chart"
      data-testid="hpo-best-chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <line className="jp-hpo-axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
      <line className="jp-hpo-axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
      <text className="jp-hpo-tick" x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">
        {formatValue(y1)}
      </text>
      <text className="jp-hpo-tick" x={PAD.left - 4} y={H - PAD.bottom} textAnchor="end">
        {formatValue(y0)}
      </text>
      <text className="jp-hpo-tick" x={PAD.left} y={H - 4} textAnchor="start">
        {`#${x0}`}
      </text>
      <text className="jp-hpo-tick" x={W - PAD.right} y={H - 4} textAnchor="end">
        {`#${x1}`}
      </text>
      {done.map(t => (
        <circle key={t.number} className="jp-hpo-dot" cx={sx(t.number)} cy={sy(t.value as number)} r={2}>
          <title>{`trial ${t.number}: ${formatValue(t.value)}`}</title>
        </circle>
      ))}
      <polyline className="jp-hpo-best-line" points={steps.join(' ')} />
    </svg>
  );
}
