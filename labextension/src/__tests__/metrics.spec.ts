/** Every extra metric a trial returns is a column: the sidebar's and the dashboard's tables list the same names. */
import { metricNames as dashboardMetricNames } from '../dashboard';
import { metricNames } from '../model';
import { ITrialRecord } from '../types';

function trial(number: number, metrics: Record<string, number | null>): ITrialRecord {
  return { number, state: 'complete', value: 0.5, params: {}, metrics } as ITrialRecord; // the fields read
}

describe('metric columns', () => {
  it('lists every metric any trial returned, in first-seen order', () => {
    const records = [
      trial(0, { latency_ms: 12, size_mb: 3 }),
      trial(1, {}),
      trial(2, { calibration_error: 0.04, latency_ms: null }),
      { ...trial(3, {}), metrics: undefined } as unknown as ITrialRecord // a record from an older server
    ];
    expect(metricNames(records)).toEqual(['latency_ms', 'size_mb', 'calibration_error']);
    expect(dashboardMetricNames(records)).toEqual(metricNames(records));
  });

  it('has no column when no trial returned an extra metric', () => {
    expect(metricNames([trial(0, {}), trial(1, {})])).toEqual([]);
    expect(dashboardMetricNames([])).toEqual([]);
  });
});
