import * as React from 'react';

import { bestSoFar } from '../model';
import { Direction, ITrialRecord } from '../types';
import { ChartFrame, IChartBox } from './ChartFrame';
import { formatValue } from './format';

const BOX: IChartBox = { w: 300, h: 140, pad: { left: 44, right: 8, top: 8, bottom: 20 } };
const { w: W, h: H, pad: PAD } = BOX;

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
    <ChartFrame
      box={BOX}
      className="jp-hpo-chart"
      testid="hpo-best-chart"
      label={label}
      ticks={{ x0: `#${x0}`, x1: `#${x1}`, y0: formatValue(y0), y1: formatValue(y1) }}
      xTickY={H - 4}
    >
      {done.map(t => (
        <circle key={t.number} className="jp-hpo-dot" cx={sx(t.number)} cy={sy(t.value as number)} r={2}>
          <title>{`trial ${t.number}: ${formatValue(t.value)}`}</title>
        </circle>
      ))}
      <polyline className="jp-hpo-best-line" points={steps.join(' ')} />
    </ChartFrame>
  );
}
