import * as React from 'react';

/** Where a chart draws: its size and the room left around the plot for the ticks. */
export interface IChartBox {
  w: number;
  h: number;
  pad: { left: number; right: number; top: number; bottom: number };
}

/**
 * The frame the sidebar's charts share: an SVG labelled for screen readers, its two axes, and each axis's two
 * extreme values as ticks (`x` ticks at height `xTickY`); the chart's marks are its children.
 */
export function ChartFrame(props: {
  box: IChartBox;
  className: string;
  testid: string;
  label: string;
  ticks: { x0: string; x1: string; y0: string; y1: string };
  xTickY: number;
  children: React.ReactNode;
}): JSX.Element {
  const { w: W, h: H, pad: PAD } = props.box;
  const { ticks } = props;
  return (
    <svg
      className={props.className}
      data-testid={props.testid}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={props.label}
    >
      <title>{props.label}</title>
      <line className="jp-hpo-axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
      <line className="jp-hpo-axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
      <text className="jp-hpo-tick" x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">
        {ticks.y1}
      </text>
      <text className="jp-hpo-tick" x={PAD.left - 4} y={H - PAD.bottom} textAnchor="end">
        {ticks.y0}
      </text>
      <text className="jp-hpo-tick" x={PAD.left} y={props.xTickY} textAnchor="start">
        {ticks.x0}
      </text>
      <text className="jp-hpo-tick" x={W - PAD.right} y={props.xTickY} textAnchor="end">
        {ticks.x1}
      </text>
      {props.children}
    </svg>
  );
}
