/**
 * The sidebar's trial table (components/TrialTable.tsx) for a job with many trials: at most the latest 200 rows,
 * the best trial always among them, and a note saying how many of how many are shown. Rendered to HTML as the
 * sidebar renders it.
 */
import * as React from 'react';

import { TrialTable } from '../components/TrialTable';
import { TABLE_MAX, tableRows } from '../model';
import { ITrialRecord } from '../types';
import { trialRecord } from './fixtures';

const { renderToStaticMarkup } = require('react-dom/server') as { renderToStaticMarkup(el: unknown): string };

function record(number: number, value: number): ITrialRecord {
  return trialRecord(number, { value, params: { x: value } });
}

/** 300 trials minimizing: trial 5 is the best, far from the latest 200. */
const records = Array.from({ length: 300 }, (_, n) => record(n, n === 5 ? 0.01 : 1 + n / 1000));

/** The trial numbers of the table's rows, top to bottom, and the note above it ('' when none). */
function shown(trials: readonly ITrialRecord[], best: number | null): { numbers: number[]; note: string } {
  const html = renderToStaticMarkup(React.createElement(TrialTable, { trials, metric: 'loss', best }));
  const numbers = [...html.matchAll(/<tr [^>]*data-trial="(\d+)"/g)].map(m => Number(m[1]));
  const note = /data-testid="hpo-trial-table-note">([^<]*)</.exec(html)?.[1] ?? '';
  return { numbers, note };
}

describe('the sidebar trial table', () => {
  it('shows the latest 200 of 300 trials and the best one, and says so', () => {
    const { numbers, note } = shown(records, 5);
    expect(TABLE_MAX).toBe(200);
    expect(numbers).toHaveLength(201);
    expect(numbers.slice(0, 200)).toEqual(Array.from({ length: 200 }, (_, i) => 299 - i));
    expect(numbers[200]).toBe(5);
    expect(note).toBe('Showing the latest 200 of 300 trials, and the best (trial 5).');
  });

  it('adds no row when the best is among the latest, and no note when all are shown', () => {
    expect(shown(records, 250)).toEqual({
      numbers: Array.from({ length: 200 }, (_, i) => 299 - i),
      note: 'Showing the latest 200 of 300 trials.'
    });
    expect(shown(records, null).numbers).toHaveLength(200);
    const few = records.slice(0, 200);
    expect(shown(few, 5)).toEqual({ numbers: Array.from({ length: 200 }, (_, i) => 199 - i), note: '' });
  });

  it('ignores a best trial it does not hold', () => {
    expect(tableRows(records, 1000, 3)).toEqual({
      rows: [records[299], records[298], records[297]],
      note: 'Showing the latest 3 of 300 trials.'
    });
  });
});
