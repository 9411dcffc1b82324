import * as React from 'react';

import { IParetoView } from '../pareto';
import { ChartFrame, IChartBox } from './ChartFrame';
import { formatValue } from './format';

const BOX: IChartBox = { w: 300, h: 170, pad: { left: 44, right: 8, top: 8, bottom: 34 } };
const { w: W, h: H, pad: PAD } = BOX;

/** `lo..hi` widened when it is a single value, so that a dot lands mid-axis. */
function range(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

/** The first two objectives of every complete trial (dots), the front's trials marked and joined. */
function Scatter(props: { view: IParetoView }): JSX.Element {
  const { points, front, objectives } = props.view;
  const [a, b] = objectives;
  if (points.length === 0) {
    return (
      <div className="jp-hpo-chart jp-hpo-chart-empty" data-testid="hpo-pareto-chart">
        The Pareto front appears once a trial is complete.
      </div>
    );
  }
  const [x0, x1] = range(points.map(p => p.values[0] as number));
  const [y0, y1] = range(points.map(p => p.values[1] as number));
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const line = points
    .filter(p => p.onFront)
    .sort((p, q) => (p.values[0] as number) - (q.values[0] as number))
    .map((p, i) => `${i ? 'L' : 'M'}${sx(p.values[0] as number).toFixed(1)},${sy(p.values[1] as number).toFixed(1)}`)
    .join(' ');
  const label =
    `${a.metric} (${a.direction}) against ${b.metric} (${b.direction}) of ${points.length} complete trials; ` +
    `${front.length} on the Pareto front`;
  return (
    <ChartFrame
      box={BOX}
      className="jp-hpo-chart jp-hpo-pareto-chart"
      testid="hpo-pareto-chart"
      label={label}
      ticks={{ x0: formatValue(x0), x1: formatValue(x1), y0: formatValue(y0), y1: formatValue(y1) }}
      xTickY={H - PAD.bottom + 12}
    >
      <text
        className="jp-hpo-tick"
        data-testid="hpo-pareto-x"
        x={(PAD.left + W - PAD.right) / 2}
        y={H - 4}
        textAnchor="middle"
      >
        {`→ ${a.metric} (${a.direction})`}
      </text>
      <text
        className="jp-hpo-tick"
        data-testid="hpo-pareto-y"
        x={PAD.left + 4}
        y={PAD.top + 8}
        textAnchor="start"
      >
        {`↑ ${b.metric} (${b.direction})`}
      </text>
      {line && <path className="jp-hpo-front-line" d={line} />}
      {points.map(p => (
        <circle
          key={p.number}
          className={p.onFront ? 'jp-hpo-dot jp-hpo-front-dot' : 'jp-hpo-dot'}
          data-number={p.number}
          data-front={p.onFront ? 'true' : 'false'}
          cx={sx(p.values[0] as number)}
          cy={sy(p.values[1] as number)}
          r={p.onFront ? 3.5 : 2}
        >
          <title>
            {`${p.onFront ? 'On the Pareto front. ' : ''}Trial ${p.number}: ${a.metric} ${formatValue(p.values[0])}, ` +
              `${b.metric} ${formatValue(p.values[1])}`}
          </title>
        </circle>
      ))}
    </ChartFrame>
  );
}

/** A job with several objectives: the scatter of its first two, and the front's trials with their values. */
export function ParetoFront(props: { view: IParetoView }): JSX.Element {
  const { view } = props;
  return (
    <section className="jp-hpo-pareto" data-testid="hpo-pareto" aria-label="Pareto front">
      <h4 className="jp-hpo-pareto-title">Pareto front</h4>
      <Scatter view={view} />
      {view.front.length > 0 && (
        <ol className="jp-hpo-pareto-list" data-testid="hpo-pareto-list">
          {view.front.map(p => (
            <li key={p.number} data-number={p.number}>
              {`trial ${p.number}: ` +
                view.objectives.map((o, i) => `${o.metric} ${formatValue(p.values[i])}`).join(', ')}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
