/** The Pareto view of the sidebar's job detail: which trials are dots, which are on the front, in what order. */
import { objectiveValues, paretoView } from '../pareto';
import { IJobSummary, ITrialRecord, TrialState } from '../types';

const TWO = [
  { metric: 'auc', direction: 'maximize' as const },
  { metric: 'train_s', direction: 'minimize' as const }
];

function job(over: Partial<IJobSummary>): IJobSummary {
  return { name: 'mo', objectives: TWO, pareto: null, ...over } as IJobSummary; // the fields paretoView reads
}

function trial(
  number: number,
  value: number | null,
  metrics: Record<string, number | null>,
  state: TrialState = 'complete'
): ITrialRecord {
  return { number, state, value, metrics } as ITrialRecord;
}

describe('paretoView', () => {
  const trials = [
    trial(0, 0.5, { train_s: 0.25, size_mb: 5 }),
    trial(1, 1.0, { train_s: 1.0 }),
    trial(2, 0.5, { train_s: 1.25 }), // dominated by trial 0
    trial(3, 0.0, { train_s: 0.0 }),
    trial(4, null, { train_s: 0.1 }, 'pruned'),
    trial(5, null, {}, 'running'),
    trial(6, 0.7, { train_s: null }) // its second objective was non-finite: no dot
  ];

  it('is null for a job with one objective', () => {
    expect(paretoView(job({ objectives: [TWO[0]] }), trials)).toBeNull();
  });

  it('makes a dot of each complete trial with both values, and lists the front along the first objective', () => {
    const view = paretoView(job({ pareto: [3, 0, 1] }), trials)!;
    expect(view.objectives).toEqual(TWO);
    expect(view.points.map(p => [p.number, p.onFront])).toEqual([
      [0, true],
      [1, true],
      [2, false],
      [3, true]
    ]);
    // auc is maximized: the front is listed from the largest auc down
    expect(view.front.map(p => [p.number, ...p.values])).toEqual([
      [1, 1.0, 1.0],
      [0, 0.5, 0.25],
      [3, 0.0, 0.0]
    ]);
  });

  it('lists from the smallest first objective when it is minimized, and skips front trials not held yet', () => {
    const down = [
      { metric: 'loss', direction: 'minimize' as const },
      { metric: 'latency', direction: 'minimize' as const }
    ];
    const view = paretoView(job({ objectives: down, pareto: [0, 1, 9] }), [
      trial(0, 0.3, { latency: 1 }),
      trial(1, 0.1, { latency: 5 })
    ])!;
    expect(view.front.map(p => p.number)).toEqual([1, 0]);
  });

  it('reads the later objectives from the metrics, and a non-finite one as missing', () => {
    const three = [...TWO, { metric: 'size_mb', direction: 'minimize' as const }];
    expect(objectiveValues(trials[0], three)).toEqual([0.5, 0.25, 5]);
    expect(objectiveValues(trials[1], three)).toEqual([1.0, 1.0, null]);
    expect(objectiveValues(trial(7, NaN, { train_s: Infinity }), TWO)).toEqual([null, null]);
  });
});
