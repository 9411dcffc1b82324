// jupyter-hpo dashboard and compare view: an anywidget ES module (no chart library). `jlpm build` compiles this
// file and writes it to jupyter_hpo/widgets/dashboard.js, which anywidget loads from a string: so it has no
// runtime import (type-only imports are erased), and the build checks that.
// Charts are inline SVG. Every string that comes from the store (job names, parameter values, errors) is
// inserted as a text node (textContent, append(string), SVG <text>/<title>), never as HTML.
//
// Protocol (see jupyter_hpo/widgets/_dashboard.py): on render we send {type: "hello"}; the kernel answers
// {type: "snapshot", trials, plot} and then {type: "delta", trials, plot?}. The Stop button sends {type: "stop", id}
// and the kernel answers {type: "stop-reply", id, ok, error}; stop is idempotent, so an unanswered one is sent
// again, and after STOP_TRIES the view says the kernel did not answer (it may be busy running a cell).
// Refit and Register send {type: "refit" | "register", id, ...} with a string id unique to this view; the kernel
// acknowledges at once ({type: "refit-reply" | "register-reply", id, state: "working"}) and answers when done
// ({..., state: "done", ok, error, job | uri}). An unacknowledged request is sent again with the same id (the kernel
// runs each id once), and after HANDOFF_TRIES the view says the kernel did not answer. The `refit` trait shows
// the job's latest refit (its status, then its model's path or URI).

import type {
  ICompareJob,
  IDashboardRow,
  IDashboardSummary,
  ISpaceParam,
  JobStatus,
  ParamValue,
  SearchSpaceDict
} from './types';

/** A row, with the constraint marks (and any extra metrics) the kernel sends when the records have them. */
interface IRow extends IDashboardRow {
  /** a complete trial of a job with constraints: false when it broke one (never the best); else null */
  feasible?: boolean | null;
  violations?: string[];
  metrics?: Record<string, number | null>;
  /** a campaign's trial on a worker handed over from an earlier job of the campaign: that job's name */
  reused_from?: string | null;
}
/** An earlier job's trial that seeded this job's sampler (`warm_start`): not one of this job's trials. */
export interface ISeededRow {
  job: string;
  number: number;
  value: number | null;
  params: Record<string, ParamValue>;
}

const SVG = 'http://www.w3.org/2000/svg';
const TABLE_MAX = 200; // the table shows the latest trials
// a warm start may be seeded by up to 2,000 earlier trials: the table lists and the chart draws only the best few
export const SEEDED_MAX = 20;
const LINES_MAX = 100; // intermediate-value lines drawn
const W = 560;
const H = 250;
const M = { l: 56, r: 16, t: 14, b: 34 };
const FINISHED: ReadonlySet<string> = new Set(['complete', 'pruned', 'fail']);
const ACTIVE: ReadonlySet<string> = new Set(['pending', 'running', 'stopping']);
const STOP_RETRY_MS = 5000;
const STOP_TRIES = 3;
const HANDOFF_RETRY_MS = 5000;
const HANDOFF_TRIES = 3;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const DASH = '\u2013';

// -- the anywidget model: the traits of Dashboard and CompareView (jupyter_hpo/widgets) -------------------
interface ITraits {
  mode: string;
  job_name: string;
  status: JobStatus | '';
  summary: IDashboardSummary;
  importance: Record<string, number>;
  importance_note: string;
  space: SearchSpaceDict;
  error: string;
  jobs: ICompareJob[];
  refit: IRefitState;
  campaign: ICampaignSummary;
}
/** CampaignView's `campaign` trait: `Campaign.summary()` of jupyter_hpo/campaign.py. */
interface ICampaignSummary {
  name?: string;
  status?: string;
  metric?: string | null;
  jobs?: { name: string; status: string }[];
  /** how many of its jobs ended (completed, stopped, failed or stale) */
  done?: number;
  trials?: number;
  complete?: number;
  warm_starts?: number;
  cold_starts?: number;
  warm_share?: number | null;
  startup_saved_s?: number | null;
  cost_usd?: number | null;
  best?: { job: string; number: number; value: number | null } | null;
}
type Listener = (...args: any[]) => void;
/** The part of anywidget's model this module uses. */
export interface IModel {
  get<K extends keyof ITraits>(key: K): ITraits[K] | null | undefined;
  on(event: string, callback: Listener): void;
  off(event: string, callback: Listener): void;
  send(message: Record<string, unknown>): void;
}
type Cleanup = () => void;

// -- DOM helpers (text only) ------------------------------------------------------------------------
type AttrValue = string | number | boolean | null | undefined | EventListener;
type Attrs = Record<string, AttrValue>;
type Child = Node | string | number | null | undefined | false | Child[];

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) {
      continue;
    }
    if (k === 'text') {
      node.textContent = String(v);
    } else if (typeof v === 'function') {
      node.addEventListener(k.slice(2), v);
    } else {
      node.setAttribute(k, String(v));
    }
  }
}
function add<T extends Node>(node: T, kids: Child[]): T {
  for (const c of kids) {
    if (Array.isArray(c)) {
      add(node, c);
    } else if (c !== null && c !== undefined && c !== false) {
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
  return node;
}
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs, ...kids: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  return add(node, kids);
}
function s(tag: string, attrs: Attrs, ...kids: Child[]): SVGElement {
  const node = document.createElementNS(SVG, tag) as SVGElement;
  setAttrs(node, attrs);
  return add(node, kids);
}
function clear<T extends Node>(node: T): T {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
  return node;
}
const title = (text: string): SVGElement => s('title', { text });
const clip = (str: string, n: number): string => (str.length > n ? str.slice(0, n - 1) + '\u2026' : str);
/** ``str`` cut to ``n`` characters in its middle, so that names differing at their end stay apart (``lear…ge_0``). */
const clipMiddle = (str: string, n: number): string =>
  str.length > n ? str.slice(0, Math.ceil((n - 1) / 2)) + '\u2026' + str.slice(str.length - Math.floor((n - 1) / 2)) : str;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const missing = (v: unknown): v is null | undefined => v === null || v === undefined;

// -- formatting -------------------------------------------------------------------------------------
export function fmt(v: unknown): string {
  if (missing(v)) {
    return DASH;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || Number.isInteger(v)) {
    return String(v);
  }
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
    return v.toExponential(3);
  }
  return String(Number(v.toPrecision(5)));
}
const fmtParam = (v: unknown): string => (v === null ? 'null' : typeof v === 'boolean' ? String(v) : fmt(v));
const fmtParams = (p: Record<string, ParamValue> | null | undefined): string =>
  Object.entries(p || {})
    .map(([k, v]) => `${k}=${fmtParam(v)}`)
    .join(', ');
export function fmtDur(sec: number | null | undefined): string {
  if (!isNum(sec)) {
    return DASH;
  }
  const t = Math.max(0, sec);
  if (t < 60) {
    return `${t.toFixed(t < 10 ? 1 : 0)} s`;
  }
  const m = Math.floor(t / 60);
  if (m < 60) {
    return `${m} min ${Math.round(t % 60)} s`;
  }
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
/**
 * The mark of a trial that runs an interrupted trial's parameters again (`rerun_of`): a stop or a runner that died
 * interrupted that trial, and the resume ran it again; null for any other trial. The sidebar's trial table shows
 * the same mark (marks.ts has its copy: this module imports nothing at run time; a jest test keeps them equal).
 */
export function rerunMark(rerunOf: number | null | undefined): { kind: 'rerun'; label: string; title: string } | null {
  if (rerunOf === null || rerunOf === undefined) {
    return null;
  }
  return {
    kind: 'rerun',
    label: `re-run of ${rerunOf}`,
    title:
      `runs trial ${rerunOf} again with its parameters: trial ${rerunOf} was interrupted (its job was stopped or ` +
      'its runner died), and the resume ran it again'
  };
}
function trialText(r: IRow, metric: string | null | undefined): string {
  const lines = [`Trial ${r.number}: ${r.state}${r.interrupted ? ' (interrupted)' : ''}`];
  const rerun = rerunMark(r.rerun_of);
  if (rerun) {
    lines.push(rerun.title);
  }
  if (!missing(r.value)) {
    lines.push(`${metric || 'value'} = ${fmt(r.value)}`);
  }
  if (r.feasible === false) {
    lines.push(`infeasible (never the best): ${(r.violations || []).join('; ') || 'broke a constraint'}`);
  }
  const extra = Object.entries(r.metrics || {});
  if (extra.length) {
    lines.push(extra.map(([k, v]) => `${k} = ${fmt(v)}`).join(', '));
  }
  if (!missing(r.fold_mean)) {
    lines.push(`folds: ${fmt(r.fold_mean)} \u00b1 ${fmt(r.fold_std)}`);
  }
  const p = fmtParams(r.params);
  if (p) {
    lines.push(p);
  }
  if (!missing(r.warm)) {
    const from = r.reused_from ? ` on a worker from job ${r.reused_from}` : '';
    lines.push(`${r.warm ? 'warm' : 'cold'} start${from}, ${fmt(r.startup_s)} s`);
  }
  if (r.error) {
    lines.push(`error: ${r.error}`);
  }
  return lines.join('\n');
}

// -- scales and axes --------------------------------------------------------------------------------
// Values are whatever trials return: one ulp apart (0.1 + 0.2 and 0.3), +-1e308, subnormals. These helpers
// return finite numbers for any input, and ticks() counts its ticks by an integer index (never by adding a
// step to a float, which stops advancing once the step is below an ulp), so no loop here can run long.
export const TICKS_PER_N = 3; // ticks(lo, hi, n) returns at most n * TICKS_PER_N ticks (n is clamped to 1..20)
const SAME = 64 * Number.EPSILON; // values fewer than ~64 ulps apart (float noise) are drawn as one value
export type Range = [number, number];
const clampFinite = (v: number): number => Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v));

/** [min, max] of the finite numbers among `values`; null when there is none. */
export function extent(values: Iterable<unknown>): Range | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!isNum(v)) {
      continue;
    }
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo === Infinity ? null : [lo, hi];
}
/** [lo, hi] widened by frac of its span on each side; a (near) single value gets +-10% of itself (or +-1). */
export function padded(range: readonly unknown[] | null | undefined, frac = 0.06): Range {
  const ends = (range || []).filter(isNum).sort((a, b) => a - b);
  if (!ends.length) {
    return [-1, 1];
  }
  const [lo, hi] = [ends[0], ends[ends.length - 1]];
  const half = hi / 2 - lo / 2; // half the span: hi - lo itself may overflow
  const mid = lo / 2 + hi / 2;
  if (half <= Math.max(Math.abs(lo), Math.abs(hi)) * SAME) {
    const d = Math.max(Math.abs(mid) * 0.1, half * 2) || 1;
    return [clampFinite(mid - d), clampFinite(mid + d)];
  }
  const d = half * (2 * frac);
  return [clampFinite(lo - d), clampFinite(hi + d)];
}
/** Where v lies in [d0, d1] (0 at d0, 1 at d1); 0.5 when that is undefined (d0 === d1, NaN). */
export function fraction(v: number, d0: number, d1: number): number {
  const d = d1 - d0;
  const u = v - d0;
  const t = Number.isFinite(d) && Number.isFinite(u) ? u / d : (v / 2 - d0 / 2) / (d1 / 2 - d0 / 2);
  return Number.isFinite(t) ? t : 0.5;
}
export function scale([d0, d1]: Range, [r0, r1]: Range): (v: number) => number {
  return v => r0 + (r1 - r0) * fraction(v, d0, d1);
}
/** The finite ends of an axis, sorted; on an integer axis the integers within them. */
function tickEnds(lo: number, hi: number, integer: boolean): number[] {
  const ends = [lo, hi].filter(isNum).sort((a, b) => a - b);
  if (!integer) {
    return ends;
  }
  return ends.length === 2 ? [Math.ceil(ends[0]), Math.floor(ends[1])] : ends.filter(Number.isInteger);
}
/** About n round ticks within [lo, hi] (integers only when integer), sorted, finite, at most n * TICKS_PER_N. */
export function ticks(lo: number, hi: number, n = 5, integer = false): number[] {
  const count = Math.min(20, Math.max(1, Math.round(n) || 1));
  const ends = tickEnds(lo, hi, integer);
  const [a, b] = [ends[0] + 0, ends[ends.length - 1] + 0]; // + 0: no -0 (and NaN when there is no end)
  if (!(b >= a)) {
    return [];
  }
  if (a === b) {
    return [a];
  }
  const raw = Number.isFinite(b - a) ? (b - a) / count : b / count - a / count; // Infinity (no ticks) when count is 1
  let e = Math.floor(Math.log10(raw));
  const r = raw / Math.pow(10, e);
  let m = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
  if (integer && e < 0) {
    [m, e] = [1, 0];
  }
  // the k-th tick is k * step; for e < 0, k * m / 10^-e is rounded right (0.3, not 0.30000000000000004)
  const step = m * Math.pow(10, e);
  const inv = Math.pow(10, -e);
  const at = e >= 0 || !Number.isFinite(inv) ? (k: number) => k * step : (k: number) => (k * m) / inv;
  const k0 = Math.ceil(a / step - 1e-9);
  const k1 = Math.floor(b / step + 1e-9);
  const ok =
    step > 0 &&
    step < Infinity &&
    Number.isSafeInteger(k0 * m) &&
    Number.isSafeInteger(k1 * m) &&
    k1 - k0 < count * TICKS_PER_N;
  const out: number[] = [];
  for (let k = k0; ok && k <= k1; k++) {
    const v = at(k) || 0; // no -0
    if (v >= a && v <= b && !(v <= out[out.length - 1])) {
      out.push(v);
    }
  }
  return out.length ? out : [a, b];
}

type Scale = (v: number) => number;
interface IAxesOptions {
  bottom?: number;
  integer?: boolean;
  /** no x tick below this (the seeded column left of trial 0 has a label instead) */
  xmin?: number;
  xlabel?: string;
  ylabel?: string;
}
function axes(g: SVGElement, x: Scale, y: Scale, xd: Range, yd: Range, opts: IAxesOptions = {}): void {
  const [x0, x1] = [M.l, W - M.r];
  const [y0, y1] = [M.t, opts.bottom ?? H - M.b];
  for (const v of ticks(yd[0], yd[1], 5)) {
    const py = y(v);
    g.append(s('line', { class: 'hpo-gridline', x1: x0, x2: x1, y1: py, y2: py }));
    g.append(s('text', { class: 'hpo-tick', x: x0 - 6, y: py + 3, 'text-anchor': 'end', text: fmt(v) }));
  }
  for (const v of ticks(Math.max(xd[0], opts.xmin ?? -Infinity), xd[1], 6, opts.integer)) {
    const px = x(v);
    g.append(s('line', { class: 'hpo-axis', x1: px, x2: px, y1: y1, y2: y1 + 4 }));
    g.append(s('text', { class: 'hpo-tick', x: px, y: H - M.b + 16, 'text-anchor': 'middle', text: fmt(v) }));
  }
  g.append(s('line', { class: 'hpo-axis', x1: x0, x2: x1, y1: y1, y2: y1 }));
  g.append(s('line', { class: 'hpo-axis', x1: x0, x2: x0, y1: y0, y2: y1 }));
  if (opts.xlabel) {
    g.append(s('text', { class: 'hpo-label', x: (x0 + x1) / 2, y: H - 4, 'text-anchor': 'middle', text: opts.xlabel }));
  }
  if (opts.ylabel) {
    const transform = `translate(12 ${(y0 + y1) / 2}) rotate(-90)`;
    g.append(s('text', { class: 'hpo-label', transform, 'text-anchor': 'middle', text: clip(opts.ylabel, 28) }));
  }
}
function emptyChart(svgEl: Element, text: string): void {
  clear(svgEl).append(s('text', { class: 'hpo-empty', x: W / 2, y: H / 2, 'text-anchor': 'middle', text }));
}
// One chart failing (unexpected data) must not stop the others: log it and say so in place.
function safely(node: Element, draw: () => void): void {
  try {
    draw();
  } catch (e) {
    console.error('jupyter-hpo dashboard:', e);
    if (node instanceof SVGElement) {
      emptyChart(node, `This chart could not be drawn: ${e}`);
    }
  }
}
function chart(testid: string, label: string): SVGElement {
  const attrs = { class: 'hpo-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label };
  return s('svg', { ...attrs, 'data-testid': testid, preserveAspectRatio: 'xMidYMid meet' });
}
const better = (a: number, b: number, dir: string | null | undefined): boolean =>
  dir === 'minimize' ? a < b : a > b;
/** a complete trial with a finite value: drawn at its value */
const valued = (r: IRow): r is IRow & { value: number } =>
  r.state === 'complete' && isNum(r.value);
// -- the view's state -------------------------------------------------------------------------------
interface ISort {
  key: string;
  dir: number;
}
interface IViewState {
  rows: Map<number, IRow>;
  plot: number[] | null;
  sorted: IRow[];
  drawn: IRow[];
  lines: IRow[];
  sort: ISort;
  live: boolean;
  space: SearchSpaceDict;
  summary: IDashboardSummary;
  importance: Record<string, number>;
  /** the earlier jobs' trials that seeded the sampler (warm_start) */
  seeded: ISeededRow[];
  at: number;
}

// -- the objective chart: a dot per finished trial, failed/pruned in a band below, best-so-far line ----
/** The best-so-far staircase, in trial-number order ('' when no trial has a value). */
function bestPath(rows: IRow[], x: Scale, y: Scale, st: IViewState): string {
  let best: number | null = null;
  let d = '';
  for (const r of rows.filter(valued)) {
    if (r.feasible === false) {
      continue; // an infeasible trial is never the best (records.competes)
    }
    if (best === null || better(r.value, best, st.summary.direction)) {
      best = r.value;
      const [px, py] = [x(r.number).toFixed(1), y(best).toFixed(1)];
      d += d ? ` H${px} V${py}` : `M${px} ${py}`;
    }
  }
  return d ? `${d} H${x(st.sorted[st.sorted.length - 1].number).toFixed(1)}` : '';
}
function objectiveDot(r: IRow, x: Scale, y: Scale, band: number, st: IViewState): SVGElement {
  const bestNumber = st.summary.best ? st.summary.best.number : null;
  const ok = valued(r);
  const isBest = r.number === bestNumber;
  const kind = ok ? (r.feasible === false ? 'infeasible' : 'complete') : r.state === 'complete' ? 'fail' : r.state;
  const attrs = {
    class: `hpo-dot hpo-dot-${kind}${isBest ? ' hpo-dot-best' : ''}`,
    cx: x(r.number).toFixed(1),
    cy: (ok ? y(r.value as number) : band).toFixed(1),
    r: isBest ? 5 : st.drawn.length > 200 ? 2.5 : 3.5,
    'data-number': r.number,
    'data-state': r.state
  };
  return s('circle', attrs, title(trialText(r, st.summary.metric)));
}
/** A hollow diamond at (px, py): an earlier job's trial that seeded the sampler. */
function seededMark(r: ISeededRow, px: number, py: number, metric: string | null | undefined): SVGElement {
  const d = `M${px.toFixed(1)} ${(py - 4.5).toFixed(1)} l4.5 4.5 l-4.5 4.5 l-4.5 -4.5 Z`;
  const tip = `Seeded from job ${r.job}, trial ${r.number}: ${metric || 'value'} = ${fmt(r.value)}\n${fmtParams(r.params)}`;
  return s('path', { class: 'hpo-seeded-mark', d, 'data-seeded': `${r.job}#${r.number}` }, title(tip));
}
/**
 * The seeded trials the table lists and the chart draws: the best SEEDED_MAX for `direction` (maximize unless
 * told), best first, those without a finite value last; ties in the order they were taken.
 */
export function seededShown(seeded: readonly ISeededRow[], direction: string | null | undefined): ISeededRow[] {
  const sign = direction === 'minimize' ? 1 : -1;
  const key = (r: ISeededRow): number => (isNum(r.value) ? sign * r.value : Infinity);
  return [...seeded].sort((a, b) => key(a) - key(b) || 0).slice(0, SEEDED_MAX);
}
function drawObjective(svgEl: SVGElement, st: IViewState): void {
  const { sorted, drawn, summary } = st;
  const finished = sorted.filter(r => FINISHED.has(r.state));
  const seeded = seededShown(st.seeded, summary.direction).filter(r => isNum(r.value));
  if (!finished.length && !seeded.length) {
    return emptyChart(svgEl, sorted.length ? 'Waiting for the first trial to finish\u2026' : 'No trials yet.');
  }
  clear(svgEl);
  const band = H - M.b - 8;
  // the seeded trials stand in a column left of trial 0, labelled "seeded"
  const numbers: number[] = sorted.map(r => r.number).concat(seeded.length ? [-2, 0] : []);
  const xd = padded(extent(numbers), 0.02);
  const yd = padded(extent([...finished.filter(valued).map(r => r.value), ...seeded.map(r => r.value)]) || [0, 1]);
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [band - 12, M.t]);
  const g = s('g', {});
  const ylabel = summary.metric || 'objective';
  axes(g, x, y, xd, yd, { integer: true, xlabel: 'trial', ylabel, bottom: H - M.b, xmin: seeded.length ? 0 : undefined });
  if (seeded.length) {
    g.append(s('text', { class: 'hpo-tick hpo-seeded-label', x: x(-1.2), y: H - M.b + 16, 'text-anchor': 'middle', text: 'seeded' }));
    seeded.forEach((r, i) => g.append(seededMark(r, x(-1.2) + ((i % 5) - 2) * 2, y(r.value as number), summary.metric)));
  }
  g.append(s('text', { class: 'hpo-tick hpo-band-label', x: M.l + 3, y: band - 3, text: 'failed / pruned' }));
  const d = bestPath(finished, x, y, st);
  if (d) {
    g.append(s('path', { class: 'hpo-best-line', d }, title('best so far')));
  }
  for (const r of drawn) {
    g.append(objectiveDot(r, x, y, band, st));
  }
  svgEl.append(g);
}

// -- several objectives: a dot per complete trial at its first two objectives, the Pareto front joined --
interface IParetoPoint {
  r: IRow;
  a: number;
  b: number;
}
/** The first two objectives of a complete trial (the first is its value, the second among its metrics). */
function paretoPoint(r: IRow, second: string): IParetoPoint | null {
  const b = r.metrics ? r.metrics[second] : null;
  return r.state === 'complete' && isNum(r.value) && isNum(b) ? { r, a: r.value, b } : null;
}
function drawPareto(svgEl: SVGElement, st: IViewState): void {
  const objs = st.summary.objectives || [];
  if (objs.length < 2) {
    return emptyChart(svgEl, 'A job with one objective has no Pareto front.');
  }
  const front = new Set(st.summary.pareto || []);
  const shown = new Set(st.drawn.map(r => r.number)); // the downsampled trials, and every one on the front
  const pts = st.sorted
    .filter(r => shown.has(r.number) || front.has(r.number))
    .map(r => paretoPoint(r, objs[1].metric))
    .filter((p): p is IParetoPoint => p !== null);
  if (!pts.length) {
    return emptyChart(svgEl, 'The Pareto front appears once a trial is complete.');
  }
  clear(svgEl);
  const xd = padded(extent(pts.map(p => p.a)));
  const yd = padded(extent(pts.map(p => p.b)));
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [H - M.b, M.t]);
  const g = s('g', {});
  const label = (i: number): string => `${objs[i].metric} (${objs[i].direction})`;
  axes(g, x, y, xd, yd, { xlabel: label(0), ylabel: label(1) });
  const onFront = pts.filter(p => front.has(p.r.number)).sort((p, q) => p.a - q.a || p.b - q.b);
  if (onFront.length > 1) {
    const d = onFront.map((p, i) => `${i ? 'L' : 'M'}${x(p.a).toFixed(1)} ${y(p.b).toFixed(1)}`).join(' ');
    g.append(s('path', { class: 'hpo-front-line', d }, title('Pareto front')));
  }
  for (const p of pts) {
    const on = front.has(p.r.number);
    const kind = p.r.feasible === false ? 'infeasible' : 'complete';
    const tip = `${on ? 'On the Pareto front. ' : ''}Trial ${p.r.number}: ${objs[0].metric} = ${fmt(p.a)}, ` +
      `${objs[1].metric} = ${fmt(p.b)}\n${fmtParams(p.r.params)}`;
    const attrs = {
      class: `hpo-dot hpo-dot-${kind}${on ? ' hpo-dot-front' : ''}`,
      cx: x(p.a).toFixed(1),
      cy: y(p.b).toFixed(1),
      r: on ? 5 : 3.5,
      'data-number': p.r.number,
      'data-front': on ? 'true' : 'false'
    };
    g.append(s('circle', attrs, title(tip)));
  }
  svgEl.append(g);
}

// -- parallel coordinates: one axis per parameter, then the objective --------------------------------
interface IAxis {
  name: string;
  labels: string[];
  ends?: boolean;
  pos: (v: unknown) => number | null;
}
function categoricalAxis(name: string, choices: ParamValue[]): IAxis {
  const keys = choices.map(c => JSON.stringify(c));
  const n = Math.max(1, keys.length - 1);
  const pos = (v: unknown): number | null => {
    const i = keys.indexOf(JSON.stringify(v));
    return i < 0 ? null : keys.length === 1 ? 0.5 : i / n;
  };
  return { name, labels: choices.map(fmtParam), pos };
}
/** The transform of a scaling: log, reverse log (for values near 1) or none; null where it is undefined. */
function transformOf(scaling: string): (v: number) => number | null {
  if (scaling === 'log') {
    return v => (v > 0 ? Math.log(v) : null);
  }
  if (scaling === 'reverse_log') {
    return v => (v < 1 ? -Math.log(1 - v) : null);
  }
  return v => v;
}
function axisOf(name: string, spec: ISpaceParam | ParamValue[] | undefined, rows: IRow[]): IAxis {
  if (Array.isArray(spec)) {
    return categoricalAxis(name, spec);
  }
  if (spec && spec.type === 'categorical') {
    return categoricalAxis(name, spec.choices || []);
  }
  const f = transformOf((spec && spec.scaling) || 'linear');
  const seen = extent(rows.map(r => r.params[name])) || [0, 1];
  const lo = spec && typeof spec.low === 'number' ? spec.low : seen[0];
  const hi = spec && typeof spec.high === 'number' ? spec.high : seen[1];
  const [a, b] = [f(lo) ?? NaN, f(hi) ?? NaN];
  const pos = (v: unknown): number | null => (typeof v !== 'number' ? null : fraction(f(v) ?? NaN, a, b));
  return { name, labels: [fmt(lo), fmt(hi)], ends: true, pos };
}
/** The parameter names: the space's, else those of the first trial. */
function paramNames(st: IViewState): string[] {
  const names = Object.keys(st.space);
  return names.length ? names : Object.keys(st.sorted[0]?.params || {});
}
/** An axis's labels as [position 0..1, text]: its two ends, or up to 10 choices. */
function axisLabels(ax: IAxis): [number, string][] {
  if (ax.ends) {
    return [
      [0, ax.labels[0]],
      [1, ax.labels[1]]
    ];
  }
  if (ax.labels.length > 10) {
    return [];
  }
  return ax.labels.map((l, j): [number, string] => [ax.labels.length === 1 ? 0.5 : j / (ax.labels.length - 1), l]);
}
/** How many characters an axis's name and its tick labels may take (see axisChars). */
export interface IAxisRoom {
  name: number;
  tick: number;
}
/**
 * How many characters of an axis's name and of its tick labels fit in ``gap`` pixels between two axes: names on
 * ``nameRows`` rows (with 2, every other axis one row up, so each has twice the gap); ticks sit right of their axis.
 * With 13 parameters the fixed 14 and 10 characters ran into the next axis and fused into other numbers
 * ("1.000e-4" and "2" read as "1.000e-42").
 */
export function axisChars(gap: number, nameRows: number): IAxisRoom {
  const fit = (px: number, max: number): number => Math.max(3, Math.min(max, Math.floor(px)));
  return { name: fit((nameRows * gap - 8) / 7, 14), tick: fit((gap - 8) / 7, 10) }; // ~7 px a character, ellipsis too
}
function drawAxis(g: SVGElement, ax: IAxis, px: number, last: boolean, yOf: Scale, room: IAxisRoom, row: number): void {
  const [top, bottom] = [yOf(1), yOf(0)];
  g.append(s('line', { class: 'hpo-axis', x1: px, x2: px, y1: top, y2: bottom }));
  const name = { class: 'hpo-label', x: px, y: H - 8 - 12 * row, 'text-anchor': 'middle', text: clipMiddle(ax.name, room.name) };
  g.append(s('text', name, title(ax.name)));
  for (const [t, l] of axisLabels(ax)) {
    const attrs = {
      class: 'hpo-tick',
      x: px + (last ? -4 : 4),
      'text-anchor': last ? 'end' : 'start',
      y: yOf(t) + (t === 1 ? 8 : t === 0 ? -2 : 3),
      text: clip(l, room.tick)
    };
    g.append(s('text', attrs, title(l)));
  }
}
function drawParallel(svgEl: SVGElement, st: IViewState): void {
  clear(svgEl);
  const names = paramNames(st);
  const rows = st.drawn.filter(valued);
  if (!names.length || !rows.length) {
    return emptyChart(svgEl, 'Parameters appear here once a trial is complete.');
  }
  const raw = extent(rows.map(r => r.value)) as Range;
  const vd = padded(raw, 0); // values one ulp apart share the middle
  const axesList = names.map(n => axisOf(n, st.space[n], rows));
  const metric = objectiveLabel(st.summary.metric, names, 'objective');
  const last = axesList.length;
  axesList.push({ name: metric, labels: [fmt(vd[0]), fmt(vd[1])], ends: true, pos: v => fraction(v as number, vd[0], vd[1]) });
  const [top, bottom] = [M.t + 8, H - M.b];
  // when the axes are close, the objective's gap is twice the others': its ticks (left of it) and its neighbour's
  // (right of that) share it
  const tight = axesList.length > 1 && (W - M.l - M.r + 20) / (axesList.length - 1) < 90;
  const units = Math.max(1, axesList.length - 1 + (tight ? 1 : 0));
  const unit = (W - M.l - M.r + 20) / units;
  const xs = axesList.map((_, i) => M.l - 20 + (i === last && tight ? units : i) * unit);
  const yOf = (t: number): number => bottom - t * (bottom - top);
  const goodness = (v: number): number => {
    const t = raw[1] === raw[0] ? 1 : fraction(v, vd[0], vd[1]);
    return st.summary.direction === 'minimize' ? 1 - t : t;
  };
  const g = s('g', {});
  for (const r of rows.slice().sort((a, b) => goodness(a.value) - goodness(b.value))) {
    const pts: string[] = [];
    axesList.forEach((ax, i) => {
      const t = i === last ? ax.pos(r.value) : ax.pos(r.params[ax.name]);
      if (t !== null && Number.isFinite(t)) {
        pts.push(`${xs[i].toFixed(1)},${yOf(Math.min(1, Math.max(0, t))).toFixed(1)}`);
      }
    });
    const q = goodness(r.value);
    const stroke = `hsl(${Math.round(220 - 190 * q)}, 75%, 48%)`;
    const attrs = { class: 'hpo-pc-line', points: pts.join(' '), stroke, 'stroke-opacity': (0.2 + 0.7 * q).toFixed(2) };
    g.append(s('polyline', attrs, title(trialText(r, st.summary.metric))));
  }
  const nameRows = tight ? 2 : 1; // names on two rows when the axes are close
  const room = axisChars(axesList.length > 1 ? unit : W, nameRows);
  // the objective's ticks: what its doubled gap leaves beside its neighbour's
  const lastRoom = { ...room, tick: tight ? axisChars(2 * unit - room.tick * 7 - 4, 1).tick : room.tick };
  axesList.forEach((ax, i) => drawAxis(g, ax, xs[i], i === last, yOf, i === last ? lastRoom : room, i % nameRows));
  svgEl.append(g);
}

// -- intermediate values: a line per trial over its steps; mean +/- std of the folds at the right ------
function intermediateLine(r: IRow, x: Scale, y: Scale, st: IViewState): SVGElement {
  const bestNumber = st.summary.best ? st.summary.best.number : null;
  const pts = r.steps.filter(p => isNum(p[1])).map(p => [x(p[0]).toFixed(1), y(p[1] as number).toFixed(1)]);
  const cls = `hpo-line hpo-line-${r.state}${r.number === bestNumber ? ' hpo-line-best' : ''}`;
  const tip = title(trialText(r, st.summary.metric));
  if (pts.length === 1) {
    return s('circle', { class: cls, cx: pts[0][0], cy: pts[0][1], r: 2 }, tip);
  }
  return s('polyline', { class: cls, points: pts.map(p => p.join(',')).join(' ') }, tip);
}
function drawFolds(g: SVGElement, folds: IRow[], x: Scale, y: Scale, s1: number, st: IViewState): void {
  const bestNumber = st.summary.best ? st.summary.best.number : null;
  g.append(s('line', { class: 'hpo-gridline hpo-mean-sep', x1: x(s1 + 0.5), x2: x(s1 + 0.5), y1: M.t, y2: H - M.b }));
  folds.forEach((r, i) => {
    const px = x(s1 + 1) + ((i % 9) - 4) * 1.5;
    const mean = r.fold_mean as number;
    const sd = r.fold_std || 0;
    const tip = `Trial ${r.number}: folds ${fmt(mean)} \u00b1 ${fmt(sd)}`;
    g.append(s('line', { class: 'hpo-whisker', x1: px, x2: px, y1: y(mean - sd), y2: y(mean + sd) }, title(tip)));
    const cls = `hpo-mean${r.number === bestNumber ? ' hpo-mean-best' : ''}`;
    g.append(s('circle', { class: cls, cx: px, cy: y(mean), r: 2.5 }, title(tip)));
  });
}
function drawIntermediate(svgEl: SVGElement, note: HTMLElement, st: IViewState): void {
  clear(svgEl);
  const withSteps = st.lines;
  const rows = withSteps.slice(-LINES_MAX);
  note.textContent =
    withSteps.length > rows.length
      ? `Showing the latest ${rows.length} of ${withSteps.length} trials with intermediate values.`
      : '';
  if (!rows.length) {
    return emptyChart(svgEl, 'No intermediate values yet (trial.report or trial.folds).');
  }
  const folds = rows.filter(r => !missing(r.fold_mean));
  const [s0, s1] = extent(rows.flatMap(r => r.steps.map(p => p[0]))) || [0, 0];
  const xd = padded([s0, folds.length ? s1 + 1 : s1], 0.04);
  const yvals: unknown[] = rows.flatMap(r => r.steps.map(p => p[1]));
  for (const r of folds) {
    yvals.push((r.fold_mean as number) - (r.fold_std || 0), (r.fold_mean as number) + (r.fold_std || 0));
  }
  const yd = padded(extent(yvals) || [0, 1]);
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [H - M.b, M.t]);
  const g = s('g', {});
  const xlabel = folds.length ? 'step (fold) \u2192 mean \u00b1 std' : 'step';
  axes(g, x, y, xd, yd, { integer: true, xlabel, ylabel: 'reported value' });
  const bestNumber = st.summary.best ? st.summary.best.number : null;
  const isBest = (r: IRow): number => Number(r.number === bestNumber);
  for (const r of rows.slice().sort((a, b) => isBest(a) - isBest(b))) {
    g.append(intermediateLine(r, x, y, st));
  }
  if (folds.length) {
    drawFolds(g, folds, x, y, s1, st);
  }
  svgEl.append(g);
}

// -- parameter importance (computed in the kernel) -----------------------------------------------------
function importanceRow(name: string, share: number): HTMLElement {
  const pct = Math.round(share * 100);
  const bar = h('div', { class: 'hpo-bar' });
  bar.style.width = `${Math.max(0, Math.min(100, share * 100))}%`;
  return h(
    'div',
    { class: 'hpo-imp-row', title: `${name}: ${pct}%` },
    h('span', { class: 'hpo-imp-name', text: clip(name, 20) }),
    h('div', { class: 'hpo-bar-track' }, bar),
    h('span', { class: 'hpo-imp-val', text: `${pct}%` })
  );
}
/** The shares (largest first), then what they rest on (the kernel's note), then how they are computed. */
function drawImportance(box: HTMLElement, st: IViewState, note: string): void {
  clear(box);
  const entries = Object.entries(st.importance || {}).sort((a, b) => b[1] - a[1]);
  for (const [name, share] of entries) {
    box.append(importanceRow(name, share));
  }
  if (note) {
    box.append(h('p', { class: 'hpo-note hpo-imp-basis', 'data-testid': 'hpo-importance-note', text: note }));
  }
  if (entries.length) {
    const text = 'Rank correlation with the objective (numbers) or between-choice spread (categories), as shares.';
    box.append(h('p', { class: 'hpo-note', text }));
  }
}

// -- the warm pool box -------------------------------------------------------------------------------
function drawWarm(dl: HTMLElement, sm: IDashboardSummary): void {
  clear(dl);
  const item = (k: string, v: string): Child[] => [h('dt', { text: k }), h('dd', { text: v })];
  const seconds = (v: number | null | undefined): string => (missing(v) ? DASH : `${fmt(v)} s`);
  add(dl, [
    item('warm starts', fmt(sm.warm_starts ?? 0)),
    item('cold starts', fmt(sm.cold_starts ?? 0)),
    item('mean cold start-up', seconds(sm.cold_startup_s)),
    item('mean warm start-up', seconds(sm.warm_startup_s)),
    item('start-up time saved', missing(sm.startup_saved_s) ? DASH : fmtDur(sm.startup_saved_s)),
    ...(missing(sm.cost_usd) ? [] : [item('cost so far (SageMaker)', `$${Number(sm.cost_usd).toFixed(2)}`)])
  ]);
}

// -- the trial table ---------------------------------------------------------------------------------
interface IColumn {
  key: string;
  label: string;
  get: (r: IRow) => unknown;
  param?: boolean;
}
/** The names of the extra metrics the trials returned (beside the objective), in first-seen order. */
export function metricNames(rows: readonly { metrics?: Record<string, unknown> | null }[]): string[] {
  const names = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r.metrics || {})) {
      names.add(k);
    }
  }
  return [...names];
}
function columns(st: IViewState): IColumn[] {
  const metric = (n: string): IColumn => ({
    key: `m:${n}`,
    label: n,
    get: r => (r.metrics ? r.metrics[n] : undefined)
  });
  const param = (n: string): IColumn => ({
    key: `p:${n}`,
    label: n,
    get: r => (r.params ? r.params[n] : undefined),
    param: true
  });
  return [
    { key: 'number', label: '#', get: r => r.number },
    { key: 'state', label: 'state', get: r => r.state },
    { key: 'value', label: objectiveLabel(st.summary.metric, paramNames(st)), get: r => r.value },
    ...metricNames(st.sorted).map(metric),
    ...paramNames(st).map(param),
    { key: 'warm', label: 'start', get: r => r.warm },
    { key: 'startup_s', label: 'start-up s', get: r => r.startup_s },
    { key: 'run_s', label: 'run s', get: r => r.run_s },
    { key: 'fold_mean', label: 'folds', get: r => r.fold_mean },
    { key: 'error', label: 'error', get: r => r.error }
  ];
}
/** Ascending order of two cells; missing values last. */
function compare(a: unknown, b: unknown): number {
  const [na, nb] = [missing(a), missing(b)];
  if (na || nb) {
    return na && nb ? 0 : na ? 1 : -1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') {
    return Number(a) - Number(b);
  }
  return String(a).localeCompare(String(b));
}
function warmCell(v: unknown, from: string | null | undefined): HTMLElement {
  if (missing(v)) {
    return h('td', { text: DASH });
  }
  const why = from
    ? `started in a worker handed over from job ${from} of the campaign`
    : v
      ? 'started in a worker that had already run a trial of this job'
      : 'started in a fresh worker process';
  const badge = h('span', { class: `hpo-badge hpo-badge-${v ? 'warm' : 'cold'}`, title: why, text: v ? 'warm' : 'cold' });
  return h('td', {}, badge, ...(from ? [h('span', { class: 'hpo-reused', title: why, text: ` from ${from}` })] : []));
}
function cell(col: IColumn, r: IRow): HTMLElement {
  const v = col.get(r);
  if (col.key === 'warm') {
    return warmCell(v, r.reused_from);
  }
  if (col.key === 'state') {
    const text = r.interrupted ? `${r.state} (interrupted)` : r.state;
    const marks: Child[] = [h('span', { class: `hpo-state hpo-state-${r.state}`, text })];
    if (r.feasible === false) {
      const why = `broke a constraint, so never the best: ${(r.violations || []).join('; ') || 'unknown'}`;
      marks.push(' ', h('span', { class: 'hpo-badge hpo-badge-infeasible', title: why, text: 'infeasible' }));
    }
    const rerun = rerunMark(r.rerun_of);
    if (rerun) {
      marks.push(' ', h('span', { class: 'hpo-badge hpo-badge-rerun', title: rerun.title, text: rerun.label }));
    }
    return h('td', {}, marks);
  }
  if (col.key === 'fold_mean') {
    return h('td', { class: 'hpo-num', text: missing(v) ? DASH : `${fmt(v)} \u00b1 ${fmt(r.fold_std)}` });
  }
  if (col.key === 'error') {
    return h('td', { class: 'hpo-error-cell', title: (v as string) || null, text: (v as string) || '' });
  }
  if (col.param) {
    const text = v === undefined ? DASH : fmtParam(v);
    return h('td', { title: text.length > 24 ? text : null, text: clip(text, 24) });
  }
  return h('td', { class: typeof v === 'number' ? 'hpo-num' : null, text: fmt(v) });
}
function headerCell(c: IColumn, sortedBy: boolean, dir: number, onSort: (key: string) => void): HTMLElement {
  const label = `${c.label}${sortedBy ? (dir > 0 ? ' \u25b2' : ' \u25bc') : ''}`;
  const ariaSort = sortedBy ? (dir > 0 ? 'ascending' : 'descending') : 'none';
  const button = { type: 'button', class: 'hpo-sort', title: `Sort by ${c.label}`, onclick: () => onSort(c.key), text: label };
  return h('th', { scope: 'col', 'aria-sort': ariaSort }, h('button', button));
}
function drawTable(table: HTMLElement, note: HTMLElement, st: IViewState, onSort: (key: string) => void): void {
  const cols = columns(st);
  const { key, dir } = st.sort;
  const col = cols.find(c => c.key === key) || cols[0];
  // sort every trial, then cut: cutting first sorted only the latest ones, so the best could be left out
  const rows = [...st.sorted]
    .sort((a, b) => {
      const c = compare(col.get(a), col.get(b));
      const nulls = missing(col.get(a)) || missing(col.get(b));
      return (nulls ? c : c * dir) || b.number - a.number;
    })
    .slice(0, TABLE_MAX);
  const n = st.sorted.length;
  const latest = col.key === 'number' && dir < 0;
  const cut = latest ? `the latest ${TABLE_MAX} of ${n} trials` : `the first ${TABLE_MAX} of ${n} trials in this order`;
  const shown = n > TABLE_MAX ? `Showing ${cut}.` : n ? '' : 'No trials yet.';
  const seeded = seededShown(st.seeded, st.summary.direction);
  const whose = "earlier jobs' trials that seeded the sampler (warm_start), not this job's";
  const seededNote = !seeded.length
    ? ''
    : seeded.length < st.seeded.length
      ? `The last ${seeded.length} rows are the best ${seeded.length} of the ${st.seeded.length} ${whose}.`
      : `The last ${seeded.length} rows are ${whose}.`;
  note.textContent = [shown, seededNote].filter(Boolean).join(' ');
  const head = h('tr', {}, cols.map(c => headerCell(c, c.key === col.key, dir, onSort)));
  const line = (r: IRow): HTMLElement => {
    const cls = `hpo-row-${r.state}${r.feasible === false ? ' hpo-row-infeasible' : ''}`;
    return h('tr', { class: cls, 'data-number': r.number }, cols.map(c => cell(c, r)));
  };
  clear(table).append(h('thead', {}, head), h('tbody', {}, rows.map(line), seeded.map(r => seededLine(r, cols))));
}
/** A table row for an earlier job's trial that seeded the sampler: its job and number, value and parameters. */
function seededLine(r: ISeededRow, cols: IColumn[]): HTMLElement {
  const why = `trial ${r.number} of job ${r.job}: it seeded this job's sampler (warm_start); not one of this job's trials`;
  const td = (c: IColumn): HTMLElement => {
    if (c.key === 'number') {
      return h('td', { title: why, text: `${clip(String(r.job), 16)} #${r.number}` });
    }
    if (c.key === 'state') {
      return h('td', {}, h('span', { class: 'hpo-badge hpo-badge-seeded', title: why, text: 'seeded' }));
    }
    if (c.key === 'value') {
      return h('td', { class: 'hpo-num', text: fmt(r.value) });
    }
    if (c.param) {
      const v = (r.params || {})[c.label];
      return h('td', { text: v === undefined ? DASH : clip(fmtParam(v), 24) });
    }
    return h('td', { text: '' });
  };
  return h('tr', { class: 'hpo-row-seeded', 'data-seeded': `${r.job}#${r.number}` }, cols.map(td));
}

// -- Refit and Register -------------------------------------------------------------------------------
/** The `refit` trait: the job's latest refit, its status, and its model's path or URI (or why it has none). */
export interface IRefitState {
  job?: string;
  status?: string;
  model?: string | null;
  error?: string;
}

/** What the Register form holds: where, the model's name (MLflow) or group (SageMaker), and the optional extra. */
export interface IRegisterForm {
  to: 'mlflow' | 'sagemaker';
  name: string;
  extra: string;
}

/** The Register form's labels for each destination. */
export const REGISTER_LABELS = {
  mlflow: { name: 'Model name', extra: 'Tracking URI (optional, http(s)://)' },
  sagemaker: { name: 'Model package group', extra: 'Region (optional)' }
};

/** The register request the form makes (the kernel checks it again), or what is missing. */
export function registerRequest(form: IRegisterForm): { request?: Record<string, string>; error?: string } {
  const name = form.name.trim();
  const extra = form.extra.trim();
  if (!name) {
    return { error: `${REGISTER_LABELS[form.to].name} is needed.` };
  }
  if (form.to === 'mlflow') {
    return { request: { to: 'mlflow', model_name: name, ...(extra ? { tracking_uri: extra } : {}) } };
  }
  return { request: { to: 'sagemaker', group: name, ...(extra ? { region: extra } : {}) } };
}

/** The job-name rule, jupyter_hpo/spec.py `_JOB_NAME` (a copy of attach.ts's: this file imports nothing at run
 * time). */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9\-]{0,62}$/;

/**
 * The shell command that stops the job `name`, to copy into a terminal. A name from a shared store need not follow
 * the job-name rule: any other is single-quoted for a POSIX shell (after `--`, so a leading '-' is no option), so
 * pasting the line runs `jupyter hpo stop` on that name and nothing else.
 */
export function stopCommand(name: string): string {
  if (JOB_NAME.test(name)) {
    return `jupyter hpo stop ${name}`;
  }
  return `jupyter hpo stop -- '${name.replace(/'/g, "'\\''")}'`;
}

/** Why Refit and Register are disabled ('' when they are enabled): the job must have finished with a complete trial. */
export function handoffBlocked(status: string, summary: IDashboardSummary): string {
  if (!status || ACTIVE.has(status)) {
    return 'The job has not finished: refit or register it once it has.';
  }
  if (!summary.best) {
    return 'The job has no complete trial: there is nothing to refit or register.';
  }
  return '';
}

/** The refit line: `Refit job-refit: running`, then `... completed; model: PATH`, or why it has no model. */
export function refitText(refit: IRefitState | null | undefined): string {
  if (!refit || !refit.job) {
    return '';
  }
  const head = `Refit ${refit.job}: ${refit.status || 'unknown'}`;
  if (refit.model) {
    return `${head}; model: ${refit.model}`;
  }
  return refit.error ? `${head}. ${refit.error}` : `${head}\u2026`;
}

/** A refit or register request waiting for the kernel: sent again while unacknowledged. */
interface IHandoffRequest {
  msg: Record<string, unknown>;
  sent: number;
  tries: number;
  acked: boolean;
  /** no acknowledgement after HANDOFF_TRIES: no longer sent, but its answer is still shown when it comes */
  gaveUp: boolean;
}

const HANDOFF_NAMES = { refit: 'Refit', register: 'Register' };
type HandoffKind = keyof typeof HANDOFF_NAMES;

/** The Refit and Register buttons, the Register form, and what they show. */
class HandoffControls {
  readonly refitButton = h('button', {
    type: 'button',
    class: 'hpo-handoff-button',
    'data-testid': 'hpo-refit',
    text: 'Refit'
  });
  readonly registerButton = h('button', {
    type: 'button',
    class: 'hpo-handoff-button',
    'data-testid': 'hpo-register',
    text: 'Register\u2026'
  });
  private readonly to = h(
    'select',
    { class: 'hpo-register-to', 'data-testid': 'hpo-register-to', 'aria-label': 'Register in' },
    h('option', { value: 'mlflow', text: 'MLflow Model Registry' }),
    h('option', { value: 'sagemaker', text: 'SageMaker Model Registry' })
  );
  private readonly name = h('input', { type: 'text', class: 'hpo-register-name', 'data-testid': 'hpo-register-name' });
  private readonly extra = h('input', { type: 'text', class: 'hpo-register-extra', 'data-testid': 'hpo-register-extra' });
  private readonly submit = h('button', {
    type: 'submit',
    class: 'hpo-handoff-button',
    'data-testid': 'hpo-register-submit',
    text: 'Register'
  });
  private readonly form = h(
    'form',
    { class: 'hpo-register-form', 'data-testid': 'hpo-register-form' },
    this.to,
    this.name,
    this.extra,
    this.submit,
    h('button', { type: 'button', class: 'hpo-handoff-button', text: 'Cancel', onclick: () => this.showForm(false) })
  );
  private readonly refitLine = h('div', { class: 'hpo-refit-status', 'data-testid': 'hpo-refit-status' });
  private readonly registerLine = h('div', { class: 'hpo-register-result', 'data-testid': 'hpo-register-result' });
  private readonly problem = h('div', { class: 'hpo-error', 'data-testid': 'hpo-handoff-error', role: 'alert' });
  readonly el = h('div', { class: 'hpo-handoff' }, this.form, this.refitLine, this.registerLine, this.problem);
  private readonly pending = new Map<HandoffKind, IHandoffRequest>();
  private readonly token = Math.random().toString(36).slice(2, 10);
  private count = 0;
  private refitFailed = '';

  constructor(
    private readonly model: IModel,
    private readonly changed: () => void
  ) {
    this.refitButton.addEventListener('click', () => this.send('refit', {}));
    this.registerButton.addEventListener('click', () => this.showForm(this.form.hidden));
    this.to.addEventListener('change', () => this.label());
    this.form.addEventListener('submit', this.onSubmit);
    this.form.hidden = true;
    this.label();
  }

  /** Draw the buttons and lines for the job's status and summary. */
  draw(status: string, summary: IDashboardSummary): void {
    const blocked = handoffBlocked(status, summary);
    const refitting = this.waiting('refit') || ACTIVE.has(this.model.get('refit')?.status || '');
    this.refitButton.disabled = !!blocked || refitting;
    this.refitButton.title = blocked || 'Run the best parameters once more as a refit job (trial.is_refit() is True)';
    this.registerButton.disabled = !!blocked;
    this.registerButton.title = blocked || "Register the refit's (or best trial's) model in MLflow or SageMaker";
    this.submit.disabled = this.waiting('register');
    const line = refitText(this.model.get('refit'));
    this.refitLine.textContent = line;
    this.refitLine.hidden = !line;
    this.problem.textContent = this.refitFailed;
    this.problem.hidden = !this.refitFailed;
    this.registerLine.hidden = !this.registerLine.textContent;
  }

  /** Send again what the kernel has not acknowledged; after HANDOFF_TRIES say so. */
  tick(): void {
    for (const [kind, req] of this.pending) {
      if (req.acked || req.gaveUp || performance.now() - req.sent < HANDOFF_RETRY_MS) {
        continue;
      }
      if (req.tries < HANDOFF_TRIES) {
        req.tries += 1;
        req.sent = performance.now();
        this.model.send(req.msg);
        continue;
      }
      req.gaveUp = true;
      const job = this.model.get('job_name') || 'NAME';
      const cli = kind === 'refit' ? `jupyter hpo refit ${job}` : `jupyter hpo register ${job} --mlflow MODEL_NAME`;
      this.say(
        kind,
        `The kernel did not answer ${HANDOFF_NAMES[kind]} (${HANDOFF_TRIES} tries): it may be busy running a cell, and ` +
          `will answer when the cell ends. Or use the jupyter-hpo sidebar, or run: ${cli}`
      );
    }
  }

  /** A reply from the kernel: true when it was one of ours. */
  onMsg(msg: IKernelMessage): boolean {
    const kind = msg.type === 'refit-reply' ? 'refit' : msg.type === 'register-reply' ? 'register' : null;
    const req = kind ? this.pending.get(kind) : undefined;
    if (!kind) {
      return false;
    }
    if (!req || req.msg.id !== msg.id) {
      return true; // an answer to an earlier request (a resend's): already settled
    }
    if (msg.state !== 'done') {
      req.acked = true;
      if (req.gaveUp) {
        this.say(kind, kind === 'register' ? 'Registering\u2026' : ''); // the kernel got it after all
      }
      return true;
    }
    this.pending.delete(kind);
    if (kind === 'refit') {
      this.say(kind, msg.ok ? '' : `Refit failed: ${msg.error || 'no reason given'}`);
    } else if (msg.ok) {
      const where = msg.registry === 'sagemaker' ? 'SageMaker Model Registry' : 'MLflow Model Registry';
      this.say(kind, `Registered in the ${where}: ${msg.uri}`);
      this.showForm(false);
    } else {
      this.say(kind, `Register failed: ${msg.error || 'no reason given'}`);
    }
    return true;
  }

  private say(kind: HandoffKind, text: string): void {
    if (kind === 'refit') {
      this.refitFailed = text;
    } else {
      this.registerLine.textContent = text;
      this.registerLine.classList.toggle('hpo-error', text.startsWith('Register failed') || text.startsWith('The kernel'));
    }
    this.changed();
  }

  /** Whether a request of this kind is on its way (sent, not answered, not given up). */
  private waiting(kind: HandoffKind): boolean {
    const req = this.pending.get(kind);
    return !!req && !req.gaveUp;
  }

  private send(kind: HandoffKind, fields: Record<string, string>): void {
    this.count += 1;
    const msg = { type: kind, id: `${this.token}-${this.count}`, ...fields };
    this.pending.set(kind, { msg, sent: performance.now(), tries: 1, acked: false, gaveUp: false });
    this.say(kind, '');
    this.model.send(msg);
  }

  private showForm(show: boolean): void {
    this.form.hidden = !show;
    if (show) {
      this.name.focus();
    }
  }

  private label(): void {
    const labels = REGISTER_LABELS[this.to.value === 'sagemaker' ? 'sagemaker' : 'mlflow'];
    this.name.placeholder = labels.name;
    this.name.setAttribute('aria-label', labels.name);
    this.extra.placeholder = labels.extra;
    this.extra.setAttribute('aria-label', labels.extra);
  }

  private readonly onSubmit = (event: Event): void => {
    event.preventDefault();
    const to = this.to.value === 'sagemaker' ? 'sagemaker' : 'mlflow';
    const made = registerRequest({ to, name: this.name.value, extra: this.extra.value });
    if (!made.request) {
      this.say('register', `Register failed: ${made.error}`);
      return;
    }
    this.send('register', made.request);
    this.registerLine.textContent = 'Registering\u2026';
    this.changed();
  };
}

// -- the dashboard view ------------------------------------------------------------------------------
const TRAITS = ['status', 'error', 'importance', 'importance_note', 'space', 'job_name', 'refit'];

/** The elements of the dashboard that change. */
interface IDashboardDom {
  name: HTMLElement;
  backend: HTMLElement;
  status: HTMLElement;
  stop: HTMLButtonElement;
  progress: HTMLProgressElement;
  count: HTMLElement;
  counts: HTMLElement;
  clock: HTMLElement;
  best: HTMLElement;
  error: HTMLElement;
  objective: SVGElement;
  objNote: HTMLElement;
  pareto: SVGElement;
  legend: HTMLElement;
  parallel: SVGElement;
  inter: SVGElement;
  interNote: HTMLElement;
  importance: HTMLElement;
  warm: HTMLElement;
  table: HTMLElement;
  tableNote: HTMLElement;
}

function dashboardDom(): IDashboardDom {
  const stopTip = 'Stop the job: running trials are interrupted (they re-run if you resume it)';
  return {
    name: h('h3', { class: 'hpo-name' }),
    backend: h('span', { class: 'hpo-badge hpo-backend' }),
    status: h('span', { class: 'hpo-status', 'data-testid': 'hpo-status', role: 'status' }),
    stop: h('button', { type: 'button', class: 'hpo-stop', 'data-testid': 'hpo-stop', title: stopTip, text: 'Stop' }),
    progress: h('progress', { class: 'hpo-progress', max: 1, value: 0, 'aria-label': 'trials done' }),
    count: h('span', { class: 'hpo-count', 'data-testid': 'hpo-trial-count' }),
    counts: h('span', { class: 'hpo-counts' }),
    clock: h('span', { class: 'hpo-clock' }),
    best: h('div', { class: 'hpo-best', 'data-testid': 'hpo-best' }),
    error: h('div', { class: 'hpo-error', role: 'alert' }),
    objective: chart('hpo-objective-chart', 'Objective per trial, with the best value so far'),
    objNote: h('p', { class: 'hpo-note' }),
    pareto: chart('hpo-pareto-chart', 'The first two objectives of each complete trial, with the Pareto front'),
    legend: h('p', { class: 'hpo-legend', 'data-testid': 'hpo-legend' }),
    parallel: chart('hpo-parallel-chart', 'Parallel coordinates of parameters and objective'),
    inter: chart('hpo-intermediate-chart', 'Intermediate values per trial'),
    interNote: h('p', { class: 'hpo-note' }),
    importance: h('div', { class: 'hpo-importance', 'data-testid': 'hpo-importance' }),
    warm: h('dl', { class: 'hpo-warm-list', 'data-testid': 'hpo-warm-pool' }),
    table: h('table', { class: 'hpo-table', 'data-testid': 'hpo-trial-table' }),
    tableNote: h('p', { class: 'hpo-note' })
  };
}
/** How many of the seeded trials the chart draws, when not all: `; the best 20 drawn` (else ''). */
function seededCut(st: IViewState): string {
  const drawn = seededShown(st.seeded, st.summary.direction).filter(r => isNum(r.value)).length;
  return drawn < st.seeded.length ? `; the best ${drawn} drawn` : '';
}
/** The objective chart's legend: the marks it draws, with infeasible and seeded only when there are some. */
function drawLegend(p: HTMLElement, st: IViewState): void {
  const key = (kind: string, text: string, why: string): Child[] => [
    h('span', { class: `hpo-key hpo-key-${kind}` }),
    h('span', { class: 'hpo-key-text', title: why || null, text: `${text} ` })
  ];
  const infeasible = st.sorted.some(r => r.feasible === false);
  add(clear(p), [
    key('complete', 'complete', ''),
    key('pruned', 'pruned', ''),
    key('fail', 'failed', ''),
    infeasible && key('infeasible', 'infeasible', 'complete, but broke a constraint: never the best'),
    st.seeded.length > 0 &&
      key('seeded', `seeded (${st.seeded.length} from earlier jobs${seededCut(st)})`,
        "earlier jobs' trials that seeded the sampler (warm_start)"),
    key('best', 'best so far', '')
  ]);
}
function dashboardLayout(d: IDashboardDom, handoff: HandoffControls): HTMLElement {
  const card = (heading: string, ...kids: Child[]): HTMLElement =>
    h('section', { class: 'hpo-card' }, h('h4', { text: heading }), kids);
  return h(
    'div',
    { class: 'jp-hpo-dashboard' },
    h(
      'header',
      { class: 'hpo-header' },
      h('div', { class: 'hpo-title-row' }, d.name, d.backend, d.status, d.stop, handoff.refitButton, handoff.registerButton),
      h('div', { class: 'hpo-progress-row' }, d.progress, d.count, d.counts, d.clock),
      d.best,
      d.error,
      handoff.el
    ),
    h(
      'div',
      { class: 'hpo-grid' },
      card('Objective per trial', d.objective, d.legend, d.objNote),
      card('Pareto front', d.pareto),
      card('Parameters vs objective', d.parallel),
      card('Intermediate values', d.inter, d.interNote),
      card('Parameter importance', d.importance),
      card('Warm pool', d.warm)
    ),
    h(
      'section',
      { class: 'hpo-card hpo-table-card' },
      h('h4', { text: 'Trials' }),
      d.tableNote,
      h('div', { class: 'hpo-table-wrap' }, d.table)
    )
  );
}

/** A message from the kernel: rows (snapshot, delta) or the answer to Stop. */
interface IKernelMessage {
  type?: string;
  trials?: (IRow | null)[];
  plot?: number[] | null;
  seeded?: ISeededRow[];
  ok?: boolean;
  error?: string;
  id?: unknown;
  state?: string;
  uri?: string;
  registry?: string;
  job?: string;
}

/** The stop request in flight: sent (ms, 0 when none waits for an answer), tries, and why it failed. */
interface IStopRequest {
  id: number;
  sent: number;
  tries: number;
  failed: string;
}

class DashboardView {
  private readonly st: IViewState = {
    rows: new Map(),
    plot: null,
    sorted: [],
    drawn: [],
    lines: [],
    sort: { key: 'number', dir: -1 },
    live: false,
    space: {},
    summary: {},
    importance: {},
    seeded: [],
    at: performance.now()
  };
  private readonly d = dashboardDom();
  private readonly stopReq: IStopRequest = { id: 0, sent: 0, tries: 0, failed: '' };
  private readonly handoff: HandoffControls;
  private frame = 0;
  private dataDirty = true;
  private headerDirty = true;
  private last = 0;
  private timer = 0;

  constructor(
    private readonly model: IModel,
    el: HTMLElement
  ) {
    this.handoff = new HandoffControls(model, () => this.schedule(false));
    el.append(dashboardLayout(this.d, this.handoff));
    this.d.stop.addEventListener('click', this.onStopClick);
    model.on('msg:custom', this.onMsg);
    model.on('change:summary', this.onSummary);
    for (const k of TRAITS) {
      model.on(`change:${k}`, this.onOther);
    }
    model.send({ type: 'hello' });
    this.render();
    this.timer = window.setInterval(this.tick, 1000);
  }

  dispose(): void {
    clearInterval(this.timer);
    clearTimeout(this.frame);
    this.model.off('msg:custom', this.onMsg);
    this.model.off('change:summary', this.onSummary);
    for (const k of TRAITS) {
      this.model.off(`change:${k}`, this.onOther);
    }
  }

  // -- Stop: sent again while unanswered, and after STOP_TRIES the view says why it waits --
  private sendStop(): void {
    this.stopReq.id += 1;
    this.stopReq.tries += 1;
    this.stopReq.sent = performance.now();
    this.model.send({ type: 'stop', id: this.stopReq.id });
  }
  private readonly onStopClick = (): void => {
    this.d.stop.disabled = true;
    this.d.stop.textContent = 'Stopping\u2026';
    this.stopReq.tries = 0;
    this.stopReq.failed = '';
    this.sendStop();
  };
  private checkStop(): void {
    const req = this.stopReq;
    if (!req.sent || performance.now() - req.sent < STOP_RETRY_MS) {
      return;
    }
    if (req.tries < STOP_TRIES) {
      return this.sendStop();
    }
    req.sent = 0;
    const jobName = this.model.get('job_name');
    req.failed =
      `The kernel did not answer Stop (${STOP_TRIES} tries): it may be busy running a cell, and will stop the ` +
      `job when the cell ends. To stop it now, use the jupyter-hpo sidebar or run: ` +
      (jobName ? stopCommand(jobName) : 'jupyter hpo stop NAME');
    this.schedule(false);
  }

  // -- the header: name, status, progress, clock, best, error, warm pool, importance --
  private readonly tick = (): void => {
    this.checkStop();
    this.handoff.tick();
    const { summary: sm, live, at } = this.st;
    const active = ACTIVE.has(sm.status ?? '') && live;
    const since = active ? (performance.now() - at) / 1000 : 0;
    const elapsed = missing(sm.elapsed_s) ? null : sm.elapsed_s + since;
    const eta = missing(sm.eta_s) ? null : Math.max(0, sm.eta_s - since);
    this.d.clock.textContent = `elapsed ${fmtDur(elapsed)}${active && eta !== null ? ` \u00b7 ETA ${fmtDur(eta)}` : ''}`;
  };
  private drawStatus(stat: string): void {
    const { d, st, stopReq } = this;
    d.status.textContent = stat;
    d.status.className = `hpo-status hpo-status-${stat}`;
    // a stale job (runner gone or late) can be stopped too: the kernel then marks it stopped
    const stopping = stat === 'stopping' || (ACTIVE.has(stat) && (st.summary.stop_requested || stopReq.sent > 0));
    d.stop.disabled = !(ACTIVE.has(stat) || stat === 'stale') || stopping;
    d.stop.textContent = stopping ? 'Stopping\u2026' : 'Stop';
  }
  private drawProgress(sm: IDashboardSummary): void {
    const done = sm.done ?? 0;
    this.d.progress.max = Math.max(1, sm.max_trials || done || 1);
    this.d.progress.value = Math.min(done, this.d.progress.max);
    this.d.count.textContent = `${done}/${sm.max_trials ?? '?'}`;
    const interrupted = sm.interrupted ? ` \u00b7 ${sm.interrupted} interrupted` : '';
    this.d.counts.textContent = `${sm.running ?? 0} running \u00b7 ${sm.pruned ?? 0} pruned \u00b7 ${sm.failed ?? 0} failed${interrupted}`;
  }
  private drawBest(sm: IDashboardSummary): void {
    const best = clear(this.d.best);
    const label = `Best ${sm.metric || 'value'}`;
    if (!sm.best) {
      best.textContent = `${label}: ${DASH}`;
      return;
    }
    best.append(
      h('strong', { text: `${label}: ${fmt(sm.best.value)}` }),
      ` (trial ${sm.best.number}, ${sm.direction || ''}) `,
      h('span', { class: 'hpo-best-params', text: fmtParams(sm.best.params) })
    );
  }
  private readonly drawHeader = (): void => {
    const sm = this.st.summary;
    this.d.name.textContent = this.model.get('job_name') || sm.name || '';
    this.d.backend.textContent = sm.backend || '';
    const stat = this.model.get('status') || sm.status || '';
    this.drawStatus(stat);
    this.drawProgress(sm);
    this.drawBest(sm);
    const err = this.model.get('error') || (ACTIVE.has(stat) || stat === 'stale' ? this.stopReq.failed : '');
    this.d.error.textContent = err;
    this.d.error.hidden = !err;
    this.handoff.draw(stat, sm);
    drawWarm(this.d.warm, sm);
    drawImportance(this.d.importance, this.st, this.model.get('importance_note') || '');
    this.tick();
  };

  // -- the charts and the table --
  private drawData(): void {
    const { st, d } = this;
    st.sorted = Array.from(st.rows.values()).sort((a, b) => a.number - b.number);
    const set = st.plot ? new Set(st.plot) : null;
    st.drawn = st.sorted.filter(r => FINISHED.has(r.state) && (!set || set.has(r.number)));
    st.lines = st.sorted.filter(
      r => r.steps && r.steps.length && (r.state === 'running' || !set || set.has(r.number))
    );
    const nFinished = st.sorted.filter(r => FINISHED.has(r.state)).length;
    d.objNote.textContent = set
      ? `Drawing ${st.drawn.length} of ${nFinished} finished trials (the best, the failed and the latest are kept).`
      : '';
    safely(d.objective, () => drawObjective(d.objective, st));
    const several = (st.summary.objectives || []).length > 1; // the Pareto card: only with several objectives
    (d.pareto.parentElement as HTMLElement).hidden = !several;
    if (several) {
      safely(d.pareto, () => drawPareto(d.pareto, st));
    }
    safely(d.legend, () => drawLegend(d.legend, st));
    safely(d.parallel, () => drawParallel(d.parallel, st));
    safely(d.inter, () => drawIntermediate(d.inter, d.interNote, st));
    safely(d.table, () => drawTable(d.table, d.tableNote, st, this.onSort));
  }
  private readonly onSort = (key: string): void => {
    // first click: the latest or the best first, anything else ascending; a second click reverses
    const st = this.st;
    const first = key === 'number' ? -1 : key === 'value' ? (st.summary.direction === 'minimize' ? 1 : -1) : 1;
    st.sort = { key, dir: st.sort.key === key ? -st.sort.dir : first };
    drawTable(this.d.table, this.d.tableNote, st, this.onSort);
  };

  // -- redraws: at most every 200 ms, the header on any change, the data when rows or traits changed --
  private readonly render = (): void => {
    this.frame = 0;
    this.last = performance.now();
    this.st.space = this.model.get('space') || {};
    this.st.summary = this.model.get('summary') || {};
    this.st.importance = this.model.get('importance') || {};
    if (this.headerDirty) {
      safely(this.d.error, this.drawHeader);
    }
    if (this.dataDirty) {
      this.drawData();
    }
    this.headerDirty = this.dataDirty = false;
  };
  private schedule(data: boolean): void {
    if (data) {
      this.dataDirty = true;
    }
    this.headerDirty = true;
    if (!this.frame) {
      this.frame = window.setTimeout(this.render, Math.max(0, 200 - (performance.now() - this.last)));
    }
  }
  private readonly onMsg = (msg: IKernelMessage | null): void => {
    if (!msg || typeof msg !== 'object') {
      return;
    }
    if (this.handoff.onMsg(msg)) {
      return this.schedule(false);
    }
    if (msg.type === 'stop-reply') {
      // every try asks the same: the first answer settles it
      this.stopReq.sent = 0;
      this.stopReq.failed = msg.ok ? '' : String(msg.error || 'the job could not be stopped');
      return this.schedule(false);
    }
    if (msg.type !== 'snapshot' && msg.type !== 'delta') {
      return;
    }
    if (msg.type === 'snapshot') {
      this.st.rows = new Map();
      this.st.live = true;
      this.st.seeded = Array.isArray(msg.seeded) ? msg.seeded.filter(r => r && typeof r === 'object') : [];
    }
    for (const r of msg.trials || []) {
      if (r && Number.isInteger(r.number)) {
        this.st.rows.set(r.number, r);
      }
    }
    if ('plot' in msg) {
      this.st.plot = msg.plot ?? null;
    }
    this.schedule(true);
  };
  private readonly onSummary = (): void => {
    this.st.at = performance.now();
    this.schedule(true);
  };
  private readonly onOther = (): void => this.schedule(true);
}

// -- the compare view: best so far of several jobs, against trials finished and wall time -------------
function drawCurve(g: SVGElement, j: ICompareJob, color: string, xi: 0 | 1, x: Scale, y: Scale): void {
  const c = j.curve || [];
  if (!c.length) {
    return;
  }
  let d = `M${x(c[0][xi]).toFixed(1)} ${y(c[0][2]).toFixed(1)}`;
  for (const p of c.slice(1)) {
    d += ` H${x(p[xi]).toFixed(1)} V${y(p[2]).toFixed(1)}`;
  }
  const tip = `${j.name}: best ${fmt(j.best ? j.best.value : null)}`;
  g.append(s('path', { class: 'hpo-curve', d, stroke: color }, title(tip)));
  for (const p of c) {
    const attrs = { class: 'hpo-curve-dot', cx: x(p[xi]).toFixed(1), cy: y(p[2]).toFixed(1), r: 2.5, fill: color };
    g.append(s('circle', attrs, title(`${j.name}, trial ${p[3]}: ${fmt(p[2])}`)));
  }
}
function drawCurves(svgEl: SVGElement, jobs: ICompareJob[], xi: 0 | 1, xlabel: string): void {
  clear(svgEl);
  const pts = jobs.flatMap(j => j.curve || []);
  if (!pts.length) {
    return emptyChart(svgEl, 'No complete trials to compare yet.');
  }
  const xd = padded(extent(pts.map(p => p[xi])), 0.02);
  const yd = padded(extent(pts.map(p => p[2])));
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [H - M.b, M.t]);
  const g = s('g', {});
  axes(g, x, y, xd, yd, { integer: xi === 0, xlabel, ylabel: 'best so far' });
  jobs.forEach((j, i) => drawCurve(g, j, PALETTE[i % PALETTE.length], xi, x, y));
  svgEl.append(g);
}
function compareEntry(j: ICompareJob, i: number): HTMLElement {
  const swatch = h('span', { class: 'hpo-swatch' });
  swatch.style.background = PALETTE[i % PALETTE.length];
  const text = ` ${j.direction || ''} ${j.metric || ''}: best ${fmt(j.best ? j.best.value : null)} after ${j.trials ?? 0} trials (${j.status || ''})`;
  return h('li', {}, swatch, h('strong', { text: j.name }), text);
}
/**
 * The objective's column or axis name: its metric, said to be the objective when a parameter has the same name
 * (`objective: {metric: x}` with a parameter `x` made two "x" columns, one of them the value, and no way to tell).
 */
export function objectiveLabel(metric: string | null | undefined, params: readonly string[], none = 'value'): string {
  const name = metric || none;
  return params.includes(name) ? `${name} (objective)` : name;
}
/**
 * What the compare view says when its jobs' curves are not of one quantity: they tune different metrics, or the
 * same one in different directions, but share each chart's one scale (a job of values near 5000 left the others flat
 * at 0, with nothing to say why); '' when they are alike.
 */
export function compareNote(jobs: readonly ICompareJob[]): string {
  const metrics = [...new Set(jobs.map(j => j.metric).filter((m): m is string => !!m))];
  const directions = new Set(jobs.map(j => j.direction).filter(Boolean));
  if (metrics.length > 1) {
    return `These jobs tune different metrics (${metrics.join(', ')}), drawn on one scale: read each curve on its own.`;
  }
  if (directions.size > 1) {
    return 'These jobs tune their metric in different directions (maximize and minimize): a better curve goes up for some, down for others.';
  }
  return '';
}
function renderCompare(model: IModel, el: HTMLElement): Cleanup {
  const byTrial = chart('hpo-compare-trials', 'Best so far against trials finished');
  const byTime = chart('hpo-compare-time', 'Best so far against wall time');
  const list = h('ul', { class: 'hpo-compare-legend' });
  const note = h('p', { class: 'hpo-note', 'data-testid': 'hpo-compare-note' });
  const card = (heading: string, svgEl: SVGElement): HTMLElement =>
    h('section', { class: 'hpo-card' }, h('h4', { text: heading }), svgEl);
  el.append(
    h(
      'div',
      { class: 'jp-hpo-compare' },
      h('div', { class: 'hpo-grid' }, card('Best so far by trials finished', byTrial), card('Best so far by wall time (s)', byTime)),
      list,
      note
    )
  );
  const draw = (): void => {
    const jobs = model.get('jobs') || [];
    safely(byTrial, () => drawCurves(byTrial, jobs, 0, 'trials finished'));
    safely(byTime, () => drawCurves(byTime, jobs, 1, 'seconds since the first trial started'));
    clear(list);
    jobs.forEach((j, i) => list.append(compareEntry(j, i)));
    note.textContent = compareNote(jobs);
    note.hidden = !note.textContent;
  };
  model.on('change:jobs', draw);
  draw();
  return () => model.off('change:jobs', draw);
}

/** A campaign's summary: its status, jobs done, trials, warm share, start-up saved, cost and best job and trial. */
function campaignFacts(c: ICampaignSummary): HTMLElement[] {
  const jobs = c.jobs || [];
  const starts = (c.warm_starts ?? 0) + (c.cold_starts ?? 0);
  const facts: [string, string][] = [
    ['jobs', `${c.done ?? 0}/${jobs.length} done`],
    ['trials', `${c.trials ?? 0} (${c.complete ?? 0} complete)`],
    ['warm starts', starts ? `${c.warm_starts}/${starts} (${Math.round(100 * (c.warm_share ?? 0))}%)` : DASH],
    ['start-up saved', missing(c.startup_saved_s) ? DASH : `${fmt(c.startup_saved_s)} s`]
  ];
  if (!missing(c.cost_usd)) {
    facts.push(['cost', `$${(c.cost_usd as number).toFixed(2)}`]);
  }
  const b = c.best;
  facts.push(['best', b ? `${c.metric || 'value'} ${fmt(b.value)}: job ${b.job}, trial ${b.number}` : DASH]);
  return facts.map(([k, v]) => h('div', { 'data-fact': k }, h('dt', { text: k }), h('dd', { text: v })));
}
function renderCampaign(model: IModel, el: HTMLElement): Cleanup {
  const head = h('h4', {});
  const facts = h('dl', { class: 'hpo-campaign-facts', 'data-testid': 'hpo-campaign-summary' });
  el.append(h('section', { class: 'hpo-card jp-hpo-campaign' }, head, facts));
  const draw = (): void => {
    const c = model.get('campaign') || {};
    head.textContent = `Campaign ${c.name || ''}: ${c.status || ''}`;
    clear(facts).append(...campaignFacts(c));
  };
  model.on('change:campaign', draw);
  draw();
  const cmp = renderCompare(model, el);
  return () => {
    model.off('change:campaign', draw);
    cmp();
  };
}

function render({ model, el }: { model: IModel; el: HTMLElement }): Cleanup {
  if (model.get('mode') === 'compare') {
    return renderCompare(model, el);
  }
  if (model.get('mode') === 'campaign') {
    return renderCampaign(model, el);
  }
  const view = new DashboardView(model, el);
  return () => view.dispose();
}

export default { render };
