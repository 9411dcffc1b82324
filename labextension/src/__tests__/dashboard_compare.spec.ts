/**
 * The compare view's note when its jobs' curves are not of one quantity, the room a parallel-coordinates axis gives
 * its labels, and the objective's column name (labextension/src/dashboard.ts, marks.ts). The first two are drawn in
 * a real notebook by tests/ui.
 */
import { axisChars, compareNote, objectiveLabel } from '../dashboard';
import { objectiveLabel as sidebarObjectiveLabel } from '../marks';
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

describe('objectiveLabel', () => {
  it('says which column is the objective when a parameter has its name, in the dashboard and the sidebar alike', () => {
    for (const label of [objectiveLabel, sidebarObjectiveLabel]) {
      expect(label('x', ['x', 'y'])).toBe('x (objective)');
      expect(label('auc', ['x', 'y'])).toBe('auc');
      expect(label(null, ['x'])).toBe('value');
      expect(label(null, ['value'])).toBe('value (objective)');
    }
    expect(objectiveLabel(null, ['x'], 'objective')).toBe('objective');
  });
});
