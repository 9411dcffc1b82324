import * as React from 'react';

import { IBestPoint } from '../model';
import { formatValue } from './format';

/** A small line of the best value so far (nothing to draw: an empty box of the same size). */
export function Sparkline(props: {
  points: readonly IBestPoint[];
  width?: number;
  height?: number;
}): JSX.Element {
  const width = props.width ?? 80;
  const height = props.height ?? 20;
  const { points } = props;
  const last = points.length ? points[points.length - 1] : null;
  const label = last
    ? `Best so far: ${formatValue(last.value)} after trial ${last.number}`
    : 'No complete trial yet';
  let line: JSX.Element | null = null;
  if (points.length > 0) {
    const xs = points.map(p => p.number);
    const ys = points.map(p => p.value);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const sx = (x: number) => (x1 === x0 ? width / 2 : 1 + ((x - x0) / (x1 - x0)) * (width - 2));
    const sy = (y: number) =>
      y1 === y0 ? height / 2 : height - 1 - ((y - y0) / (y1 - y0)) * (height - 2);
    const coords =
      points.length === 1
        ? `1,${sy(ys[0])} ${width - 1},${sy(ys[0])}`
        : points.map(p => `${sx(p.number).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ');
    line = <polyline className="jp-hpo-sparkline-line" points={coords} />;
  }
  return (
    <svg
      className="jp-hpo-sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      {line}
    </svg>
  );
}
