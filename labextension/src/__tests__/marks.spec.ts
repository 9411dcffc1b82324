/**
 * The sidebar's marks: infeasible trials (with what they broke), the seeded line of a warm-started job, and the
 * best-so-far chart leaving infeasible trials out (they are never the best).
 */
import { rerunMark as dashboardRerunMark } from '../dashboard';
import { INFEASIBLE_MEANING, rerunMark, seededSources, seededText, trialMarks } from '../marks';
import { bestSoFar } from '../model';
import { IJobSummary, ITrialRecord } from '../types';

function trial(number: number, value: number | null, over: Partial<ITrialRecord> = {}): ITrialRecord {
  return {
    number,
    state: value === null ? 'fail' : 'complete',
    value,
    params: { x: number },
    feasible: null,
    violations: [],
    ...over
  } as ITrialRecord; // only the fields the marks read
}

describe('trial marks', () => {
  it('marks an infeasible trial, saying what it broke, and nothing else', () => {
    const broke = trial(3, 0.9, { feasible: false, violations: ['latency_ms=12 > max 10', 'size_mb missing'] });
    expect(trialMarks(broke)).toEqual([
      {
        kind: 'infeasible',
        label: 'infeasible',
        title: `${INFEASIBLE_MEANING} (broke latency_ms=12 > max 10; size_mb missing)`
      }
    ]);
    expect(trialMarks(trial(1, 0.5, { feasible: true }))).toEqual([]);
    expect(trialMarks(trial(2, 0.5))).toEqual([]); // a job without constraints: feasible is null
    expect(trialMarks(trial(4, null))).toEqual([]);
  });

  it('leaves infeasible trials out of the best so far', () => {
    const records = [
      trial(0, 0.5, { feasible: true }),
      trial(1, 0.9, { feasible: false, violations: ['m=2 > max 1'] }),
      trial(2, 0.7, { feasible: true })
    ];
    expect(bestSoFar(records, 'maximize')).toEqual([
      { number: 0, value: 0.5 },
      { number: 2, value: 0.7 }
    ]);
  });
});

describe('seeded jobs', () => {
  const job = (seeded: number): IJobSummary => ({ name: 'second', seeded }) as IJobSummary;

  it('says how many earlier trials seeded the job, and from which jobs', () => {
    const spec = { warm_start: { from: ['first', 'other'] } };
    expect(seededSources(spec)).toEqual(['first', 'other']);
    expect(seededText(job(6), spec)).toBe('6 trials from first, other');
    expect(seededText(job(1), { warm_start: { from: ['first'] } })).toBe('1 trial from first');
    expect(seededText(job(2), null)).toBe('2 trials'); // the spec not fetched yet
  });

  it('says nothing for a job that nothing seeded', () => {
    expect(seededText(job(0), { warm_start: { from: ['first'] } })).toBeNull();
    expect(seededText(job(0), {})).toBeNull();
    expect(seededSources({ warm_start: { from: 'first' } })).toEqual([]);
  });
});

describe('the re-run mark', () => {
  it('marks the trial that re-runs an interrupted one, in the sidebar and the dashboard alike', () => {
    const rerun = trial(7, 0.8, { rerun_of: 3 });
    const mark = {
      kind: 'rerun',
      label: 're-run of 3',
      title:
        'runs trial 3 again with its parameters: trial 3 was interrupted (its job was stopped or its runner ' +
        'died), and the resume ran it again'
    };
    expect(trialMarks(rerun)).toEqual([mark]);
    expect(dashboardRerunMark(3)).toEqual(mark);
    expect(trialMarks(trial(3, null, { rerun_of: null }))).toEqual([]);
    expect(dashboardRerunMark(null)).toBeNull();
    expect(rerunMark(0)?.label).toBe('re-run of 0'); // trial 0 is a trial like any other
  });

  it('puts it after the infeasible mark on a re-run that broke a constraint', () => {
    const both = trial(9, 0.9, { rerun_of: 2, feasible: false, violations: ['m=2 > max 1'] });
    expect(trialMarks(both).map(m => m.kind)).toEqual(['infeasible', 'rerun']);
  });
});
