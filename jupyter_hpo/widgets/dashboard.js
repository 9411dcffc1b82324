// jupyter-hpo dashboard and compare view: a plain ES module for anywidget (no build step, no chart library).
// Charts are inline SVG. Every string that comes from the store (job names, parameter values, errors) is
// inserted as a text node (textContent, append(string), SVG <text>/<title>), never as HTML.
//
// Protocol (see jupyter_hpo/widgets/_dashboard.py): on render we send {type: "hello"}; the kernel answers
// {type: "snapshot", trials, plot} and then {type: "delta", trials, plot?}. The Stop button sends {type: "stop", id}
// and the kernel answers {type: "stop-reply", id, ok, error}; stop is idempotent, so an unanswered one is sent
// again, and after STOP_TRIES the view says the kernel did not answer (it may be busy running a cell).

const SVG = "http://www.w3.org/2000/svg";
const TABLE_MAX = 200; // the table shows the latest trials
const LINES_MAX = 100; // intermediate-value lines drawn
const W = 560;
const H = 250;
const M = { l: 56, r: 16, t: 14, b: 34 };
const FINISHED = new Set(["complete", "pruned", "fail"]);
const ACTIVE = new Set(["pending", "running", "stopping"]);
const STOP_RETRY_MS = 5000;
const STOP_TRIES = 3;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

// -- DOM helpers (text only) ------------------------------------------------------------------------
function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
}
function add(node, kids) {
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function h(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  return add(node, kids);
}
function s(tag, attrs, ...kids) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  return add(node, kids);
}
function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}
const title = (text) => s("title", { text });
const clip = (str, n) => (str.length > n ? str.slice(0, n - 1) + "\u2026" : str);

// -- formatting -------------------------------------------------------------------------------------
function fmt(v) {
  if (v === null || v === undefined) return "\u2013";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}
const fmtParam = (v) => (v === null ? "null" : typeof v === "boolean" ? String(v) : fmt(v));
const fmtParams = (p) => Object.entries(p || {}).map(([k, v]) => `${k}=${fmtParam(v)}`).join(", ");
function fmtDur(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return "\u2013";
  sec = Math.max(0, sec);
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 1 : 0)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
function trialText(r, metric) {
  const lines = [`Trial ${r.number}: ${r.state}${r.interrupted ? " (interrupted)" : ""}`];
  if (r.value !== null && r.value !== undefined) lines.push(`${metric || "value"} = ${fmt(r.value)}`);
  if (r.fold_mean !== null && r.fold_mean !== undefined) lines.push(`folds: ${fmt(r.fold_mean)} \u00b1 ${fmt(r.fold_std)}`);
  const p = fmtParams(r.params);
  if (p) lines.push(p);
  if (r.warm !== null && r.warm !== undefined) lines.push(`${r.warm ? "warm" : "cold"} start, ${fmt(r.startup_s)} s`);
  if (r.error) lines.push(`error: ${r.error}`);
  return lines.join("\n");
}

// -- scales and axes --------------------------------------------------------------------------------
// Values are whatever trials return: one ulp apart (0.1 + 0.2 and 0.3), +-1e308, subnormals. These helpers
// return finite numbers for any input, and ticks() counts its ticks by an integer index (never by adding a
// step to a float, which stops advancing once the step is below an ulp), so no loop here can run long.
export const TICKS_PER_N = 3; // ticks(lo, hi, n) returns at most n * TICKS_PER_N ticks (n is clamped to 1..20)
const SAME = 64 * Number.EPSILON; // values fewer than ~64 ulps apart (float noise) are drawn as one value
const clampFinite = (v) => Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v));
export function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? null : [lo, hi];
}
// [lo, hi] widened by frac of its span on each side; a (near) single value gets +-10% of itself (or +-1)
export function padded(range, frac = 0.06) {
  const ends = (range || []).filter(Number.isFinite).sort((a, b) => a - b);
  if (!ends.length) return [-1, 1];
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
// where v lies in [d0, d1] (0 at d0, 1 at d1); 0.5 when that is undefined (d0 === d1, NaN)
export function fraction(v, d0, d1) {
  const d = d1 - d0;
  const u = v - d0;
  const t = Number.isFinite(d) && Number.isFinite(u) ? u / d : (v / 2 - d0 / 2) / (d1 / 2 - d0 / 2);
  return Number.isFinite(t) ? t : 0.5;
}
export function scale([d0, d1], [r0, r1]) {
  return (v) => r0 + (r1 - r0) * fraction(v, d0, d1);
}
// about n round ticks within [lo, hi] (integers only when integer), sorted, finite, at most n * TICKS_PER_N
export function ticks(lo, hi, n = 5, integer = false) {
  const count = Math.min(20, Math.max(1, Math.round(n) || 1));
  const ends = [lo, hi].filter(Number.isFinite).sort((a, b) => a - b);
  if (integer) ends.splice(0, 2, ...(ends.length === 2 ? [Math.ceil(ends[0]), Math.floor(ends[1])] : ends.filter(Number.isInteger)));
  [lo, hi] = [ends[0] + 0, ends[ends.length - 1] + 0]; // + 0: no -0
  if (!(hi >= lo)) return [];
  if (lo === hi) return [lo];
  const raw = Number.isFinite(hi - lo) ? (hi - lo) / count : hi / count - lo / count; // Infinity (no ticks) when count is 1
  let e = Math.floor(Math.log10(raw));
  const r = raw / Math.pow(10, e);
  let m = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
  if (integer && e < 0) [m, e] = [1, 0];
  // the k-th tick is k * step; for e < 0, k * m / 10^-e is rounded right (0.3, not 0.30000000000000004)
  const step = m * Math.pow(10, e);
  const inv = Math.pow(10, -e);
  const at = e >= 0 || !Number.isFinite(inv) ? (k) => k * step : (k) => (k * m) / inv;
  const k0 = Math.ceil(lo / step - 1e-9);
  const k1 = Math.floor(hi / step + 1e-9);
  const ok = step > 0 && step < Infinity && Number.isSafeInteger(k0 * m) && Number.isSafeInteger(k1 * m) && k1 - k0 < count * TICKS_PER_N;
  const out = [];
  for (let k = k0; ok && k <= k1; k++) {
    const v = at(k) || 0; // no -0
    if (v >= lo && v <= hi && !(v <= out[out.length - 1])) out.push(v);
  }
  return out.length ? out : [lo, hi];
}
function axes(g, x, y, xd, yd, opts = {}) {
  const [x0, x1] = [M.l, W - M.r];
  const [y0, y1] = [M.t, opts.bottom ?? H - M.b];
  for (const v of ticks(yd[0], yd[1], 5)) {
    const py = y(v);
    g.append(s("line", { class: "hpo-gridline", x1: x0, x2: x1, y1: py, y2: py }));
    g.append(s("text", { class: "hpo-tick", x: x0 - 6, y: py + 3, "text-anchor": "end", text: fmt(v) }));
  }
  for (const v of ticks(xd[0], xd[1], 6, opts.integer)) {
    const px = x(v);
    g.append(s("line", { class: "hpo-axis", x1: px, x2: px, y1: y1, y2: y1 + 4 }));
    g.append(s("text", { class: "hpo-tick", x: px, y: H - M.b + 16, "text-anchor": "middle", text: fmt(v) }));
  }
  g.append(s("line", { class: "hpo-axis", x1: x0, x2: x1, y1: y1, y2: y1 }));
  g.append(s("line", { class: "hpo-axis", x1: x0, x2: x0, y1: y0, y2: y1 }));
  if (opts.xlabel) g.append(s("text", { class: "hpo-label", x: (x0 + x1) / 2, y: H - 4, "text-anchor": "middle", text: opts.xlabel }));
  if (opts.ylabel) {
    g.append(s("text", { class: "hpo-label", transform: `translate(12 ${(y0 + y1) / 2}) rotate(-90)`, "text-anchor": "middle", text: clip(opts.ylabel, 28) }));
  }
}
function emptyChart(svgEl, text) {
  clear(svgEl).append(s("text", { class: "hpo-empty", x: W / 2, y: H / 2, "text-anchor": "middle", text }));
}
// One chart failing (unexpected data) must not stop the others: log it and say so in place.
function safely(node, draw) {
  try {
    draw();
  } catch (e) {
    console.error("jupyter-hpo dashboard:", e);
    if (node instanceof SVGElement) emptyChart(node, `This chart could not be drawn: ${e}`);
  }
}
function chart(testid, label) {
  return s("svg", { class: "hpo-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-testid": testid, preserveAspectRatio: "xMidYMid meet" });
}
const better = (a, b, dir) => (dir === "minimize" ? a < b : a > b);
const valued = (r) => r.state === "complete" && Number.isFinite(r.value); // drawn at its value

// -- the objective chart: a dot per finished trial, failed/pruned in a band below, best-so-far line ----
function drawObjective(svgEl, st) {
  const { sorted, drawn, summary } = st;
  const finished = sorted.filter((r) => FINISHED.has(r.state));
  if (!finished.length) return emptyChart(clear(svgEl), sorted.length ? "Waiting for the first trial to finish\u2026" : "No trials yet.");
  clear(svgEl);
  const withValue = finished.filter(valued);
  const band = H - M.b - 8;
  const bottom = H - M.b;
  const xd = padded(extent(sorted.map((r) => r.number)), 0.02);
  const yd = padded(extent(withValue.map((r) => r.value)) || [0, 1]);
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [band - 12, M.t]);
  const g = s("g");
  axes(g, x, y, xd, yd, { integer: true, xlabel: "trial", ylabel: summary.metric || "objective", bottom });
  g.append(s("text", { class: "hpo-tick hpo-band-label", x: M.l + 3, y: band - 3, text: "failed / pruned" }));
  // best so far, in trial-number order
  let best = null;
  let d = "";
  for (const r of withValue) {
    if (best === null || better(r.value, best, summary.direction)) {
      best = r.value;
      d += d ? ` H${x(r.number).toFixed(1)} V${y(best).toFixed(1)}` : `M${x(r.number).toFixed(1)} ${y(best).toFixed(1)}`;
    }
  }
  if (d) g.append(s("path", { class: "hpo-best-line", d: `${d} H${x(sorted[sorted.length - 1].number).toFixed(1)}` }, title("best so far")));
  const bestNumber = summary.best ? summary.best.number : null;
  const radius = drawn.length > 200 ? 2.5 : 3.5;
  for (const r of drawn) {
    const ok = valued(r);
    const cls = `hpo-dot hpo-dot-${ok ? "complete" : r.state === "complete" ? "fail" : r.state}${r.number === bestNumber ? " hpo-dot-best" : ""}`;
    g.append(s("circle", { class: cls, cx: x(r.number).toFixed(1), cy: (ok ? y(r.value) : band).toFixed(1), r: r.number === bestNumber ? 5 : radius, "data-number": r.number, "data-state": r.state }, title(trialText(r, summary.metric))));
  }
  svgEl.append(g);
}

// -- parallel coordinates: one axis per parameter, then the objective --------------------------------
function axisOf(name, spec, rows) {
  const vals = rows.map((r) => r.params[name]);
  if (Array.isArray(spec) || (spec && spec.type === "categorical")) {
    const choices = Array.isArray(spec) ? spec : spec.choices || [];
    const keys = choices.map((c) => JSON.stringify(c));
    const n = Math.max(1, keys.length - 1);
    return { name, labels: choices.map(fmtParam), pos: (v) => { const i = keys.indexOf(JSON.stringify(v)); return i < 0 ? null : keys.length === 1 ? 0.5 : i / n; } };
  }
  const sc = (spec && spec.scaling) || "linear";
  const f = sc === "log" ? (v) => (v > 0 ? Math.log(v) : null) : sc === "reverse_log" ? (v) => (v < 1 ? -Math.log(1 - v) : null) : (v) => v;
  const lo = spec && typeof spec.low === "number" ? spec.low : (extent(vals) || [0, 1])[0];
  const hi = spec && typeof spec.high === "number" ? spec.high : (extent(vals) || [0, 1])[1];
  const [a, b] = [f(lo), f(hi)];
  return { name, labels: [fmt(lo), fmt(hi)], ends: true, pos: (v) => (typeof v !== "number" ? null : fraction(f(v) ?? NaN, a ?? NaN, b ?? NaN)) };
}
function drawParallel(svgEl, st) {
  clear(svgEl);
  const space = st.space;
  const names = Object.keys(space).length ? Object.keys(space) : Object.keys((st.sorted[0] || {}).params || {});
  const rows = st.drawn.filter(valued);
  if (!names.length || !rows.length) return emptyChart(svgEl, "Parameters appear here once a trial is complete.");
  const raw = extent(rows.map((r) => r.value));
  const vd = padded(raw, 0); // values one ulp apart share the middle
  const axesList = names.map((n) => axisOf(n, space[n], rows));
  axesList.push({ name: st.summary.metric || "objective", labels: [fmt(vd[0]), fmt(vd[1])], ends: true, pos: (v) => fraction(v, vd[0], vd[1]) });
  const top = M.t + 8;
  const bottom = H - M.b;
  const xs = axesList.map((_, i) => M.l - 20 + (i * (W - M.l - M.r + 20)) / Math.max(1, axesList.length - 1));
  const yOf = (t) => bottom - t * (bottom - top);
  const g = s("g");
  const goodness = (v) => { const t = raw[1] === raw[0] ? 1 : fraction(v, vd[0], vd[1]); return st.summary.direction === "minimize" ? 1 - t : t; };
  const ordered = rows.slice().sort((a, b) => goodness(a.value) - goodness(b.value));
  for (const r of ordered) {
    const pts = [];
    axesList.forEach((ax, i) => {
      const t = i === axesList.length - 1 ? ax.pos(r.value) : ax.pos(r.params[ax.name]);
      if (t !== null && Number.isFinite(t)) pts.push(`${xs[i].toFixed(1)},${yOf(Math.min(1, Math.max(0, t))).toFixed(1)}`);
    });
    const q = goodness(r.value);
    g.append(s("polyline", { class: "hpo-pc-line", points: pts.join(" "), stroke: `hsl(${Math.round(220 - 190 * q)}, 75%, 48%)`, "stroke-opacity": (0.2 + 0.7 * q).toFixed(2) }, title(trialText(r, st.summary.metric))));
  }
  axesList.forEach((ax, i) => {
    g.append(s("line", { class: "hpo-axis", x1: xs[i], x2: xs[i], y1: top, y2: bottom }));
    g.append(s("text", { class: "hpo-label", x: xs[i], y: H - 8, "text-anchor": "middle", text: clip(ax.name, 14) }, title(ax.name)));
    const labels = ax.ends ? [[0, ax.labels[0]], [1, ax.labels[1]]] : ax.labels.length <= 10 ? ax.labels.map((l, j) => [ax.labels.length === 1 ? 0.5 : j / (ax.labels.length - 1), l]) : [];
    const lastAxis = i === axesList.length - 1;
    for (const [t, l] of labels) {
      g.append(s("text", { class: "hpo-tick", x: xs[i] + (lastAxis ? -4 : 4), "text-anchor": lastAxis ? "end" : "start", y: yOf(t) + (t === 1 ? 8 : t === 0 ? -2 : 3), text: clip(l, 10) }, title(l)));
    }
  });
  svgEl.append(g);
}

// -- intermediate values: a line per trial over its steps; mean +/- std of the folds at the right ------
function drawIntermediate(svgEl, note, st) {
  clear(svgEl);
  const withSteps = st.lines;
  const rows = withSteps.slice(-LINES_MAX);
  note.textContent = withSteps.length > rows.length ? `Showing the latest ${rows.length} of ${withSteps.length} trials with intermediate values.` : "";
  if (!rows.length) return emptyChart(svgEl, "No intermediate values yet (trial.report or trial.folds).");
  const steps = rows.flatMap((r) => r.steps.map((p) => p[0]));
  const folds = rows.filter((r) => r.fold_mean !== null && r.fold_mean !== undefined);
  const [s0, s1] = extent(steps) || [0, 0];
  const meanX = s1 + 1;
  const xd = padded([s0, folds.length ? meanX : s1], 0.04);
  const yvals = rows.flatMap((r) => r.steps.map((p) => p[1]));
  for (const r of folds) yvals.push(r.fold_mean - (r.fold_std || 0), r.fold_mean + (r.fold_std || 0));
  const yd = padded(extent(yvals) || [0, 1]);
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [H - M.b, M.t]);
  const g = s("g");
  axes(g, x, y, xd, yd, { integer: true, xlabel: folds.length ? "step (fold) \u2192 mean \u00b1 std" : "step", ylabel: "reported value" });
  const bestNumber = st.summary.best ? st.summary.best.number : null;
  const ordered = rows.slice().sort((a, b) => (a.number === bestNumber) - (b.number === bestNumber));
  for (const r of ordered) {
    const pts = r.steps.filter((p) => Number.isFinite(p[1])).map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
    const cls = `hpo-line hpo-line-${r.state}${r.number === bestNumber ? " hpo-line-best" : ""}`;
    if (pts.length === 1) g.append(s("circle", { class: cls, cx: pts[0].split(",")[0], cy: pts[0].split(",")[1], r: 2 }, title(trialText(r, st.summary.metric))));
    else g.append(s("polyline", { class: cls, points: pts.join(" ") }, title(trialText(r, st.summary.metric))));
  }
  if (folds.length) {
    g.append(s("line", { class: "hpo-gridline hpo-mean-sep", x1: x(s1 + 0.5), x2: x(s1 + 0.5), y1: M.t, y2: H - M.b }));
    folds.forEach((r, i) => {
      const px = x(meanX) + ((i % 9) - 4) * 1.5;
      const sd = r.fold_std || 0;
      const tip = `Trial ${r.number}: folds ${fmt(r.fold_mean)} \u00b1 ${fmt(sd)}`;
      g.append(s("line", { class: "hpo-whisker", x1: px, x2: px, y1: y(r.fold_mean - sd), y2: y(r.fold_mean + sd) }, title(tip)));
      g.append(s("circle", { class: `hpo-mean${r.number === bestNumber ? " hpo-mean-best" : ""}`, cx: px, cy: y(r.fold_mean), r: 2.5 }, title(tip)));
    });
  }
  svgEl.append(g);
}

// -- parameter importance (computed in the kernel) -----------------------------------------------------
function drawImportance(box, st) {
  clear(box);
  const entries = Object.entries(st.importance || {}).sort((a, b) => b[1] - a[1]);
  if (!entries.length) {
    box.append(h("p", { class: "hpo-note", text: `Importance appears once 10 trials are complete (${st.summary.complete || 0} so far).` }));
    return;
  }
  for (const [name, share] of entries) {
    const pct = Math.round(share * 100);
    const bar = h("div", { class: "hpo-bar" });
    bar.style.width = `${Math.max(0, Math.min(100, share * 100))}%`;
    box.append(h("div", { class: "hpo-imp-row", title: `${name}: ${pct}%` }, h("span", { class: "hpo-imp-name", text: clip(name, 20) }), h("div", { class: "hpo-bar-track" }, bar), h("span", { class: "hpo-imp-val", text: `${pct}%` })));
  }
  box.append(h("p", { class: "hpo-note", text: "Rank correlation with the objective (numbers) or between-choice spread (categories), as shares." }));
}

// -- the warm pool box -------------------------------------------------------------------------------
function drawWarm(dl, sm) {
  clear(dl);
  const item = (k, v) => [h("dt", { text: k }), h("dd", { text: v })];
  add(dl, [
    item("warm starts", fmt(sm.warm_starts ?? 0)),
    item("cold starts", fmt(sm.cold_starts ?? 0)),
    item("mean cold start-up", sm.cold_startup_s == null ? "\u2013" : `${fmt(sm.cold_startup_s)} s`),
    item("mean warm start-up", sm.warm_startup_s == null ? "\u2013" : `${fmt(sm.warm_startup_s)} s`),
    item("start-up time saved", sm.startup_saved_s == null ? "\u2013" : fmtDur(sm.startup_saved_s)),
    ...(sm.cost_usd == null ? [] : [item("cost so far (SageMaker)", `$${Number(sm.cost_usd).toFixed(2)}`)]),
  ]);
}

// -- the trial table ---------------------------------------------------------------------------------
function columns(st) {
  const names = Object.keys(st.space).length ? Object.keys(st.space) : Object.keys((st.sorted[0] || {}).params || {});
  return [
    { key: "number", label: "#", get: (r) => r.number },
    { key: "state", label: "state", get: (r) => r.state },
    { key: "value", label: st.summary.metric || "value", get: (r) => r.value },
    ...names.map((n) => ({ key: `p:${n}`, label: n, get: (r) => (r.params ? r.params[n] : undefined), param: true })),
    { key: "warm", label: "start", get: (r) => r.warm },
    { key: "startup_s", label: "start-up s", get: (r) => r.startup_s },
    { key: "run_s", label: "run s", get: (r) => r.run_s },
    { key: "fold_mean", label: "folds", get: (r) => r.fold_mean },
    { key: "error", label: "error", get: (r) => r.error },
  ];
}
function compare(a, b) {
  const na = a === null || a === undefined;
  const nb = b === null || b === undefined;
  if (na || nb) return na && nb ? 0 : na ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}
function cell(col, r) {
  const v = col.get(r);
  if (col.key === "warm") {
    if (v === null || v === undefined) return h("td", { text: "\u2013" });
    return h("td", {}, h("span", { class: `hpo-badge hpo-badge-${v ? "warm" : "cold"}`, title: v ? "started in a worker that had already run a trial of this job" : "started in a fresh worker process", text: v ? "warm" : "cold" }));
  }
  if (col.key === "state") return h("td", {}, h("span", { class: `hpo-state hpo-state-${r.state}`, text: r.interrupted ? `${r.state} (interrupted)` : r.state }));
  if (col.key === "fold_mean") return h("td", { class: "hpo-num", text: v === null || v === undefined ? "\u2013" : `${fmt(v)} \u00b1 ${fmt(r.fold_std)}` });
  if (col.key === "error") return h("td", { class: "hpo-error-cell", title: v || null, text: v || "" });
  if (col.param) {
    const text = v === undefined ? "\u2013" : fmtParam(v);
    return h("td", { title: text.length > 24 ? text : null, text: clip(text, 24) });
  }
  return h("td", { class: typeof v === "number" ? "hpo-num" : null, text: fmt(v) });
}
function drawTable(table, note, st, onSort) {
  const cols = columns(st);
  const { key, dir } = st.sort;
  const col = cols.find((c) => c.key === key) || cols[0];
  const latest = st.sorted.slice(-TABLE_MAX);
  const rows = latest.sort((a, b) => {
    const c = compare(col.get(a), col.get(b));
    const nulls = col.get(a) == null || col.get(b) == null;
    return (nulls ? c : c * dir) || b.number - a.number;
  });
  note.textContent = st.sorted.length > TABLE_MAX ? `Showing the latest ${TABLE_MAX} of ${st.sorted.length} trials.` : st.sorted.length ? "" : "No trials yet.";
  const head = h("tr", {}, cols.map((c) => {
    const sorted = c.key === col.key;
    const label = `${c.label}${sorted ? (dir > 0 ? " \u25b2" : " \u25bc") : ""}`;
    return h("th", { scope: "col", "aria-sort": sorted ? (dir > 0 ? "ascending" : "descending") : "none" },
      h("button", { type: "button", class: "hpo-sort", title: `Sort by ${c.label}`, onclick: () => onSort(c.key), text: label }));
  }));
  const body = h("tbody", {}, rows.map((r) => h("tr", { class: `hpo-row-${r.state}`, "data-number": r.number }, cols.map((c) => cell(c, r)))));
  clear(table).append(h("thead", {}, head), body);
}

// -- the dashboard view ------------------------------------------------------------------------------
function renderDashboard(model, el) {
  const st = { rows: new Map(), plot: null, sorted: [], drawn: [], sort: { key: "number", dir: -1 }, live: false, space: {}, summary: {}, importance: {}, at: performance.now() };
  const name = h("h3", { class: "hpo-name" });
  const backend = h("span", { class: "hpo-badge hpo-backend" });
  const status = h("span", { class: "hpo-status", "data-testid": "hpo-status", role: "status" });
  const stop = h("button", { type: "button", class: "hpo-stop", "data-testid": "hpo-stop", title: "Stop the job: running trials are interrupted (they re-run if you resume it)", text: "Stop" });
  const progress = h("progress", { class: "hpo-progress", max: 1, value: 0, "aria-label": "trials done" });
  const count = h("span", { class: "hpo-count", "data-testid": "hpo-trial-count" });
  const counts = h("span", { class: "hpo-counts" });
  const clock = h("span", { class: "hpo-clock" });
  const best = h("div", { class: "hpo-best", "data-testid": "hpo-best" });
  const error = h("div", { class: "hpo-error", role: "alert" });
  const objective = chart("hpo-objective-chart", "Objective per trial, with the best value so far");
  const objNote = h("p", { class: "hpo-note" });
  const parallel = chart("hpo-parallel-chart", "Parallel coordinates of parameters and objective");
  const inter = chart("hpo-intermediate-chart", "Intermediate values per trial");
  const interNote = h("p", { class: "hpo-note" });
  const importance = h("div", { class: "hpo-importance", "data-testid": "hpo-importance" });
  const warm = h("dl", { class: "hpo-warm-list", "data-testid": "hpo-warm-pool" });
  const table = h("table", { class: "hpo-table", "data-testid": "hpo-trial-table" });
  const tableNote = h("p", { class: "hpo-note" });
  const legend = h("p", { class: "hpo-legend" },
    h("span", { class: "hpo-key hpo-key-complete" }), "complete ", h("span", { class: "hpo-key hpo-key-pruned" }), "pruned ",
    h("span", { class: "hpo-key hpo-key-fail" }), "failed ", h("span", { class: "hpo-key hpo-key-best" }), "best so far");
  const card = (heading, ...kids) => h("section", { class: "hpo-card" }, h("h4", { text: heading }), kids);
  const root = h("div", { class: "jp-hpo-dashboard" },
    h("header", { class: "hpo-header" },
      h("div", { class: "hpo-title-row" }, name, backend, status, stop),
      h("div", { class: "hpo-progress-row" }, progress, count, counts, clock),
      best, error),
    h("div", { class: "hpo-grid" },
      card("Objective per trial", objective, legend, objNote),
      card("Parameters vs objective", parallel),
      card("Intermediate values", inter, interNote),
      card("Parameter importance", importance),
      card("Warm pool", warm)),
    h("section", { class: "hpo-card hpo-table-card" }, h("h4", { text: "Trials" }), tableNote, h("div", { class: "hpo-table-wrap" }, table)));
  el.append(root);

  // the stop request in flight: sent (ms, 0 when none waits for an answer), tries, and why it failed
  const stopReq = { id: 0, sent: 0, tries: 0, failed: "" };
  function sendStop() {
    stopReq.id += 1;
    stopReq.tries += 1;
    stopReq.sent = performance.now();
    model.send({ type: "stop", id: stopReq.id });
  }
  stop.addEventListener("click", () => {
    stop.disabled = true;
    stop.textContent = "Stopping\u2026";
    stopReq.tries = 0;
    stopReq.failed = "";
    sendStop();
  });
  function checkStop() {
    if (!stopReq.sent || performance.now() - stopReq.sent < STOP_RETRY_MS) return;
    if (stopReq.tries < STOP_TRIES) return sendStop();
    stopReq.sent = 0;
    const jobName = model.get("job_name") || "NAME";
    stopReq.failed = `The kernel did not answer Stop (${STOP_TRIES} tries): it may be busy running a cell, and will stop the job when the cell ends. To stop it now, use the jupyter-hpo sidebar or run: jupyter hpo stop ${jobName}`;
    schedule(false);
  }

  function tick() {
    checkStop();
    const sm = st.summary;
    const active = ACTIVE.has(sm.status) && st.live;
    const since = active ? (performance.now() - st.at) / 1000 : 0;
    const elapsed = sm.elapsed_s == null ? null : sm.elapsed_s + since;
    const eta = sm.eta_s == null ? null : Math.max(0, sm.eta_s - since);
    clock.textContent = `elapsed ${fmtDur(elapsed)}${active && eta !== null ? ` \u00b7 ETA ${fmtDur(eta)}` : ""}`;
  }
  function drawHeader() {
    const sm = st.summary;
    name.textContent = model.get("job_name") || sm.name || "";
    backend.textContent = sm.backend || "";
    const stat = model.get("status") || sm.status || "";
    status.textContent = stat;
    status.className = `hpo-status hpo-status-${stat}`;
    // a stale job (runner gone or late) can be stopped too: the kernel then marks it stopped
    const stopping = stat === "stopping" || (ACTIVE.has(stat) && (sm.stop_requested || stopReq.sent > 0));
    stop.disabled = !(ACTIVE.has(stat) || stat === "stale") || stopping;
    stop.textContent = stopping ? "Stopping\u2026" : "Stop";
    const done = sm.done ?? 0;
    progress.max = Math.max(1, sm.max_trials || done || 1);
    progress.value = Math.min(done, progress.max);
    count.textContent = `${done}/${sm.max_trials ?? "?"}`;
    counts.textContent = `${sm.running ?? 0} running \u00b7 ${sm.pruned ?? 0} pruned \u00b7 ${sm.failed ?? 0} failed${sm.interrupted ? ` \u00b7 ${sm.interrupted} interrupted` : ""}`;
    clear(best);
    if (sm.best) {
      best.append(h("strong", { text: `Best ${sm.metric || "value"}: ${fmt(sm.best.value)}` }), ` (trial ${sm.best.number}, ${sm.direction || ""}) `, h("span", { class: "hpo-best-params", text: fmtParams(sm.best.params) }));
    } else best.textContent = `Best ${sm.metric || "value"}: \u2013`;
    const err = model.get("error") || (ACTIVE.has(stat) || stat === "stale" ? stopReq.failed : "");
    error.textContent = err;
    error.hidden = !err;
    drawWarm(warm, sm);
    drawImportance(importance, st);
    tick();
  }
  function drawData() {
    st.sorted = Array.from(st.rows.values()).sort((a, b) => a.number - b.number);
    const set = st.plot ? new Set(st.plot) : null;
    st.drawn = st.sorted.filter((r) => FINISHED.has(r.state) && (!set || set.has(r.number)));
    st.lines = st.sorted.filter((r) => r.steps && r.steps.length && (r.state === "running" || !set || set.has(r.number)));
    const nFinished = st.sorted.filter((r) => FINISHED.has(r.state)).length;
    objNote.textContent = set ? `Drawing ${st.drawn.length} of ${nFinished} finished trials (the best, the failed and the latest are kept).` : "";
    safely(objective, () => drawObjective(objective, st));
    safely(parallel, () => drawParallel(parallel, st));
    safely(inter, () => drawIntermediate(inter, interNote, st));
    safely(table, () => drawTable(table, tableNote, st, onSort));
  }
  function onSort(key) {
    // first click: the latest or the best first, anything else ascending; a second click reverses
    const first = key === "number" ? -1 : key === "value" ? (st.summary.direction === "minimize" ? 1 : -1) : 1;
    st.sort = { key, dir: st.sort.key === key ? -st.sort.dir : first };
    drawTable(table, tableNote, st, onSort);
  }
  let frame = 0;
  let dataDirty = true;
  let headerDirty = true;
  let last = 0;
  function render() {
    frame = 0;
    last = performance.now();
    st.space = model.get("space") || {};
    st.summary = model.get("summary") || {};
    st.importance = model.get("importance") || {};
    if (headerDirty) safely(error, drawHeader);
    if (dataDirty) drawData();
    headerDirty = dataDirty = false;
  }
  function schedule(data) {
    if (data) dataDirty = true;
    headerDirty = true;
    if (frame) return;
    frame = setTimeout(render, Math.max(0, 200 - (performance.now() - last)));
  }
  const onMsg = (msg) => {
    if (msg && msg.type === "stop-reply") {
      // every try asks the same: the first answer settles it
      stopReq.sent = 0;
      stopReq.failed = msg.ok ? "" : String(msg.error || "the job could not be stopped");
      return schedule(false);
    }
    if (!msg || typeof msg !== "object" || (msg.type !== "snapshot" && msg.type !== "delta")) return;
    if (msg.type === "snapshot") {
      st.rows = new Map();
      st.live = true;
    }
    for (const r of msg.trials || []) if (r && Number.isInteger(r.number)) st.rows.set(r.number, r);
    if ("plot" in msg) st.plot = msg.plot;
    schedule(true);
  };
  const onSummary = () => { st.at = performance.now(); schedule(true); };
  const onOther = () => schedule(true);
  model.on("msg:custom", onMsg);
  model.on("change:summary", onSummary);
  for (const k of ["status", "error", "importance", "space", "job_name"]) model.on(`change:${k}`, onOther);
  model.send({ type: "hello" });
  render();
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    clearTimeout(frame);
    model.off("msg:custom", onMsg);
    model.off("change:summary", onSummary);
    for (const k of ["status", "error", "importance", "space", "job_name"]) model.off(`change:${k}`, onOther);
  };
}

// -- the compare view: best so far of several jobs, against trials finished and wall time -------------
function drawCurves(svgEl, jobs, xi, xlabel) {
  clear(svgEl);
  const pts = jobs.flatMap((j) => j.curve || []);
  if (!pts.length) return emptyChart(svgEl, "No complete trials to compare yet.");
  const xd = padded(extent(pts.map((p) => p[xi])), 0.02);
  const yd = padded(extent(pts.map((p) => p[2])));
  const x = scale(xd, [M.l, W - M.r]);
  const y = scale(yd, [H - M.b, M.t]);
  const g = s("g");
  axes(g, x, y, xd, yd, { integer: xi === 0, xlabel, ylabel: "best so far" });
  jobs.forEach((j, i) => {
    const c = j.curve || [];
    if (!c.length) return;
    let d = `M${x(c[0][xi]).toFixed(1)} ${y(c[0][2]).toFixed(1)}`;
    for (const p of c.slice(1)) d += ` H${x(p[xi]).toFixed(1)} V${y(p[2]).toFixed(1)}`;
    const color = PALETTE[i % PALETTE.length];
    g.append(s("path", { class: "hpo-curve", d, stroke: color }, title(`${j.name}: best ${fmt(j.best ? j.best.value : null)}`)));
    for (const p of c) g.append(s("circle", { class: "hpo-curve-dot", cx: x(p[xi]).toFixed(1), cy: y(p[2]).toFixed(1), r: 2.5, fill: color }, title(`${j.name}, trial ${p[3]}: ${fmt(p[2])}`)));
  });
  svgEl.append(g);
}
function renderCompare(model, el) {
  const byTrial = chart("hpo-compare-trials", "Best so far against trials finished");
  const byTime = chart("hpo-compare-time", "Best so far against wall time");
  const legend = h("ul", { class: "hpo-compare-legend" });
  el.append(h("div", { class: "jp-hpo-compare" },
    h("div", { class: "hpo-grid" },
      h("section", { class: "hpo-card" }, h("h4", { text: "Best so far by trials finished" }), byTrial),
      h("section", { class: "hpo-card" }, h("h4", { text: "Best so far by wall time (s)" }), byTime)),
    legend));
  const draw = () => {
    const jobs = model.get("jobs") || [];
    safely(byTrial, () => drawCurves(byTrial, jobs, 0, "trials finished"));
    safely(byTime, () => drawCurves(byTime, jobs, 1, "seconds since the first trial started"));
    clear(legend);
    jobs.forEach((j, i) => {
      const swatch = h("span", { class: "hpo-swatch" });
      swatch.style.background = PALETTE[i % PALETTE.length];
      legend.append(h("li", {}, swatch, h("strong", { text: j.name }), ` ${j.direction || ""} ${j.metric || ""}: best ${fmt(j.best ? j.best.value : null)} after ${j.trials ?? 0} trials (${j.status || ""})`));
    });
  };
  model.on("change:jobs", draw);
  draw();
  return () => model.off("change:jobs", draw);
}

function render({ model, el }) {
  return model.get("mode") === "compare" ? renderCompare(model, el) : renderDashboard(model, el);
}

export default { render };
