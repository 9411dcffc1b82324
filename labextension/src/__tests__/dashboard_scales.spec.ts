/**
 * The dashboard's axis helpers (labextension/src/dashboard.ts, built into the anywidget ES module
 * jupyter_hpo/widgets/dashboard.js) for any numbers: values one ulp apart (0.1 + 0.2 and 0.3), +-1e308,
 * subnormals, NaN and infinities. ticks() once looped forever when its step was below an ulp, which froze
 * the browser tab.
 *
 * The pathological cases first run in a worker thread with a deadline (beforeAll), so a loop that never ends
 * fails this suite in seconds instead of hanging it: a synchronous loop in the test's own thread cannot be
 * timed out, and jest runs no test of the file once beforeAll failed. The worker runs the module as the
 * browser does: dashboard.ts compiled to an ES module by TypeScript, imported from a string.
 */
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { Worker } from 'worker_threads';

import { extent, fraction, padded, scale, ticks, TICKS_PER_N } from '../dashboard';

const DASHBOARD = path.resolve(__dirname, '../dashboard.ts');
const DEADLINE_MS = 10_000;
const MAX_N = 20; // ticks() clamps n to 1..20

type TickCase = [number, number, number, boolean];

const ULP_APART: [number, number][] = [
  [0.3, 0.1 + 0.2],
  [1, 1.0000000000000002],
  [0.1 + 0.2, 0.3],
  [-1.0000000000000002, -1],
  [1e15, 1e15 + 0.125]
];
const SPECIAL = [
  0,
  -0,
  0.3,
  0.1 + 0.2,
  1,
  1.0000000000000002,
  -1,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  5e-324,
  -5e-324,
  1e-320,
  2 ** 53,
  2 ** 53 + 2,
  NaN,
  Infinity,
  -Infinity
];
const EXPLICIT: TickCase[] = [
  ...ULP_APART.flatMap(([a, b]): TickCase[] => [
    [a, b, 5, false],
    [a, b, 6, true]
  ]),
  ...SPECIAL.flatMap(a =>
    SPECIAL.flatMap((b): TickCase[] => [
      [a, b, 5, false],
      [a, b, 6, true]
    ])
  )
];

/** dashboard.ts as the ES module the build writes (type-only imports erased): what anywidget loads. */
function dashboardModule(): string {
  const compilerOptions = { module: ts.ModuleKind.ES2020, target: ts.ScriptTarget.ES2020 };
  return ts.transpileModule(fs.readFileSync(DASHBOARD, 'utf8'), { compilerOptions }).outputText;
}

/** ticks() for each case in a worker thread running the ES module; rejects after `ms`. */
function ticksInWorker(cases: TickCase[], ms: number): Promise<number[][]> {
  const b64 = Buffer.from(dashboardModule()).toString('base64');
  const code = `
    const { parentPort, workerData } = require('worker_threads');
    import('data:text/javascript;base64,' + workerData.b64).then(m =>
      parentPort.postMessage(workerData.cases.map(([lo, hi, n, int]) => m.ticks(lo, hi, n, int))));`;
  const worker = new Worker(code, { eval: true, workerData: { b64, cases } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`ticks() did not return within ${ms} ms`));
    }, ms);
    worker.once('message', (out: number[][]) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(out);
    });
    worker.once('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** What breaks the rules every result of ticks(lo, hi, n, integer) keeps, whatever the input ([] if none). */
function tickProblems(out: number[], lo: number, hi: number, n: number, integer: boolean): string[] {
  const count = Math.min(MAX_N, Math.max(1, Math.round(n) || 1));
  const ends = [lo, hi].filter(Number.isFinite);
  const [min, max] = [Math.min(...ends), Math.max(...ends)];
  const problems: string[] = [];
  const bad = (rule: string, v?: number) => problems.push(`${rule}: ${v} in ${JSON.stringify(out)}`);
  if (!Array.isArray(out)) {
    return [`not an array: ${out}`];
  }
  if (out.length > count * TICKS_PER_N) {
    bad(`more than ${count * TICKS_PER_N} ticks`);
  }
  out.forEach((v, i) => {
    if (!Number.isFinite(v) || Object.is(v, -0)) {
      bad('not a finite number (or -0)', v);
    } else if (i > 0 && !(v > out[i - 1])) {
      bad('not above the tick before', v);
    } else if (v < min || v > max) {
      bad(`outside [${min}, ${max}]`, v);
    } else if (integer && !Number.isInteger(v)) {
      bad('not an integer on an integer axis', v);
    }
  });
  if (ends.length === 0 && out.length) {
    bad('ticks without a finite end');
  }
  if (!integer && ends.length > 0 && !out.length) {
    bad('no tick (an axis always gets a label)');
  }
  return problems;
}
function checkTicks(out: number[], lo: number, hi: number, n: number, integer: boolean): void {
  expect(tickProblems(out, lo, hi, n, integer)).toEqual([]);
}

/** a double and the one `k` ulps above it (toward +Infinity), both finite */
function ulpsAbove(x: number, k: number): number {
  let y = x;
  for (let i = 0; i < k && Number.isFinite(y); i++) {
    y = nextUp(y);
  }
  return Number.isFinite(y) ? y : x;
}
function nextUp(x: number): number {
  if (x === 0) {
    return Number.MIN_VALUE;
  }
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return f[0];
}

const anyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(...SPECIAL),
  fc.integer().map(Number),
  fc.double({ min: -1e6, max: 1e6, noNaN: true })
);
const nearPair = fc
  .tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 300 }))
  .map(([x, k]) => [x, ulpsAbove(x, k)] as [number, number]);
const anyN = fc.oneof(fc.integer({ min: 1, max: MAX_N }), fc.double(), fc.integer({ min: -10, max: 1000 }));

// If one of these cases does not return, this rejects and jest fails every test below without running it
// (each would loop in this thread).
let explicitOut: number[][] = [];
beforeAll(async () => {
  explicitOut = await ticksInWorker(EXPLICIT, DEADLINE_MS);
}, DEADLINE_MS + 5_000);

describe('ticks() always ends', () => {
  it('returns for ulp-apart, equal, huge, tiny and non-finite ends within the deadline', () => {
    expect(explicitOut).toHaveLength(EXPLICIT.length);
    explicitOut.forEach((t, i) => checkTicks(t, ...EXPLICIT[i]));
  });
});

describe('ticks() properties', () => {
  it('gives a short, finite, strictly increasing list within [lo, hi] for any numbers', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, anyN, fc.boolean(), (lo, hi, n, integer) => {
        checkTicks(ticks(lo, hi, n, integer), lo, hi, n, integer);
      }),
      { numRuns: 1500 }
    );
  });

  it('keeps the rules for ends a few ulps apart', () => {
    fc.assert(
      fc.property(nearPair, fc.integer({ min: 1, max: MAX_N }), fc.boolean(), ([lo, hi], n, integer) => {
        checkTicks(ticks(lo, hi, n, integer), lo, hi, n, integer);
        checkTicks(ticks(hi, lo, n, integer), hi, lo, n, integer);
      }),
      { numRuns: 1500 }
    );
  });

  it('labels an ordinary range with at least two round ticks', () => {
    const ordinary = fc
      .tuple(fc.double({ min: -1e12, max: 1e12, noNaN: true }), fc.double({ min: 1e-6, max: 1e12, noNaN: true }))
      .filter(([lo, w]) => w > Math.abs(lo) * 1e-9);
    fc.assert(
      fc.property(ordinary, fc.integer({ min: 4, max: MAX_N }), ([lo, w], n) => {
        const out = ticks(lo, lo + w, n);
        expect(out.length).toBeGreaterThanOrEqual(2);
        // round: no float noise in the last digits (0.3, never 0.30000000000000004)
        for (const v of out) {
          expect(Number(v.toPrecision(15))).toBe(v);
        }
      }),
      { numRuns: 1000 }
    );
  });

  it('gives integers on an integer axis, and none when no integer lies in it', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, anyN, (lo, hi, n) => {
        const out = ticks(lo, hi, n, true);
        expect(out.every(Number.isInteger)).toBe(true);
      })
    );
    expect(ticks(0.2, 0.7, 6, true)).toEqual([]);
    expect(ticks(0.5, 1.5, 6, true)).toEqual([1]);
  });
});

describe('ticks() on the cases that froze the tab', () => {
  it.each([
    [0.3, 0.1 + 0.2],
    [1, 1.0000000000000002]
  ])('%p and %p give at most the two ends', (a, b) => {
    const out = ticks(a, b, 5);
    expect(out).toEqual([Math.min(a, b), Math.max(a, b)]);
    expect(ticks(a, b, 6, true)).toEqual(a === 1 ? [1] : []);
  });

  it('gives round ticks for ordinary and extreme ranges', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(0.27, 0.33, 5)).toEqual([0.27, 0.28, 0.29, 0.3, 0.31, 0.32, 0.33]);
    expect(ticks(-3.2, 7.9, 5)).toEqual([-2, 0, 2, 4, 6]);
    expect(ticks(2, 2, 5)).toEqual([2]);
    expect(ticks(-1e308, 1e308, 5)).toEqual([-1e308, -5e307, 0, 5e307, 1e308]);
    expect(ticks(-Number.MAX_VALUE, Number.MAX_VALUE, 5)).toEqual([-1e308, 0, 1e308]);
    expect(ticks(0, 5e-324, 5)).toEqual([0, 5e-324]);
    expect(ticks(NaN, 1, 5)).toEqual([1]);
    expect(ticks(-Infinity, Infinity, 5)).toEqual([]);
    expect(ticks(NaN, NaN, 5, true)).toEqual([]);
  });
});

describe('extent, padded, fraction and scale', () => {
  it('extent skips what is not a finite number', () => {
    expect(extent([NaN, Infinity, 3, -Infinity, 1, null, '7'])).toEqual([1, 3]);
    expect(extent([NaN, Infinity])).toBeNull();
  });

  it('padded gives a finite domain that holds every finite input, wider than a point', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, fc.double({ min: 0, max: 0.5, noNaN: true }), (a, b, frac) => {
        const [d0, d1] = padded([a, b], frac);
        expect(Number.isFinite(d0) && Number.isFinite(d1)).toBe(true);
        expect(d1).toBeGreaterThan(d0);
        for (const v of [a, b].filter(Number.isFinite)) {
          expect(d0).toBeLessThanOrEqual(v);
          expect(d1).toBeGreaterThanOrEqual(v);
        }
      }),
      { numRuns: 1500 }
    );
    expect(padded(null)).toEqual([-1, 1]);
  });

  it('padded draws values one ulp apart as one value, with room around it', () => {
    expect(padded([0.3, 0.1 + 0.2])).toEqual([0.27, 0.33000000000000007]);
    expect(padded([1, 1.0000000000000002])).toEqual([0.9, 1.1]);
    expect(padded([-1e308, 1e308])).toEqual([-1.12e308, 1.12e308]);
    expect(padded([-Number.MAX_VALUE, Number.MAX_VALUE])).toEqual([-Number.MAX_VALUE, Number.MAX_VALUE]);
  });

  it('scale maps any number of a padded domain to a finite coordinate in its range', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, (a, b) => {
        const domain = padded([a, b]) as [number, number];
        const x = scale(domain, [56, 544]);
        for (const v of [a, b, ...domain]) {
          const px = x(v);
          expect(Number.isFinite(px)).toBe(true);
          if (Number.isFinite(v)) {
            expect(px).toBeGreaterThanOrEqual(56 - 1e-9);
            expect(px).toBeLessThanOrEqual(544 + 1e-9);
          }
        }
      }),
      { numRuns: 1500 }
    );
    const x = scale([-Number.MAX_VALUE, Number.MAX_VALUE], [0, 100]);
    expect([x(-Number.MAX_VALUE), x(0), x(Number.MAX_VALUE)]).toEqual([0, 50, 100]);
    expect(fraction(1, 2, 2)).toBe(0.5);
    expect(fraction(NaN, 0, 1)).toBe(0.5);
  });
});
