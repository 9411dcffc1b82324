/**
 * The seeded trials the dashboard lists and draws (labextension/src/dashboard.ts): a warm start may be seeded by up
 * to 2,000 earlier trials, and only the best SEEDED_MAX are shown. The table and chart are tested in a real notebook
 * (tests/ui/test_marks_browser.py).
 */
import { ISeededRow, SEEDED_MAX, seededShown } from '../dashboard';

const row = (number: number, value: number | null): ISeededRow => ({ job: 'earlier', number, value, params: {} });

describe('seededShown', () => {
  const many = Array.from({ length: 2000 }, (_, n) => row(n, (n * 7) % 2000));

  it('keeps the best SEEDED_MAX for the direction, best first', () => {
    expect(SEEDED_MAX).toBe(20);
    expect(seededShown(many, 'minimize').map(r => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(seededShown(many, 'maximize').map(r => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => 1999 - i));
  });

  it('puts trials without a finite value last, and keeps a few as they were taken when they tie', () => {
    const few = [row(0, null), row(1, 0.5), row(2, NaN), row(3, 0.5), row(4, 0.9)];
    expect(seededShown(few, 'maximize').map(r => r.number)).toEqual([4, 1, 3, 0, 2]);
    expect(seededShown([], 'minimize')).toEqual([]);
  });
});
