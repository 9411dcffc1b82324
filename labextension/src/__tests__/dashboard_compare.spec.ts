/**
 * The compare view's note when its jobs' curves are not of one quantity, and the room a parallel-coordinates axis
 * gives its labels (labextension/src/dashboard.ts). Both are drawn in a real notebook by tests/ui.
 */
import { axisChars, compareNote } from '../dashboard';
import { ICompareJob } from '../types';

const job = (name: string, metric: string, direction: 'maximize' | 'minimize' = 'maximize'): ICompareJob => ({
  name,
  metric,
  direction
});

describe('compareNote', () => {
  it('says nothing of jobs that tune one metric one way', () => {
    expect(compareNote([job('a', 'auc'), job('b', 'auc')])).toBe('');
    expect(compareNote([])).toBe('');
  });

  it('names the metrics when they differ, in the jobs order', () => {
    expect(compareNote([job('a', 'score'), job('b', 'x'), job('c', 'acc'), job('d', 'x')])).toBe(
      'These jobs tune different metrics (score, x, acc), drawn on one scale: read each curve on its own.'
    );
  });

  it('says so when one metric is tuned in different directions', () => {
    expect(compareNote([job('a', 'loss', 'minimize'), job('b', 'loss')])).toContain('in different directions');
  });
});

describe('axisChars', () => {
  it('gives wide axes their full labels and close ones what their gap holds', () => {
    expect(axisChars(250, 1)).toEqual({ name: 14, tick: 10 });
    const close = axisChars(36, 2);
    expect(close.tick).toBe(4); // (36 - 8) / 7 characters of ~7 px
    expect(close.name).toBe(9); // two rows: twice the gap
    expect(axisChars(10, 2)).toEqual({ name: 3, tick: 3 }); // never below 3
  });
});
