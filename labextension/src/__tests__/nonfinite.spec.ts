/**
 * The sidebar's words for a record's `nonfinite` flags (non-finite numbers the server sent as null).
 */
import { describeNonFinite } from '../nonfinite';

describe('describeNonFinite', () => {
  it('names each non-finite number and what it was', () => {
    expect(describeNonFinite({ fold_mean: 'nan', 'intermediate.3': 'inf', 'params.lr': '-inf' })).toBe(
      'fold_mean was NaN, intermediate.3 was +inf, params.lr was -inf'
    );
  });

  it('says nothing when every number was finite or no flags came', () => {
    expect(describeNonFinite({})).toBe('');
    expect(describeNonFinite(undefined)).toBe('');
    expect(describeNonFinite(null)).toBe('');
  });
});
