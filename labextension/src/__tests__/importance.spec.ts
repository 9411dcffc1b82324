/** The importance row before the server has shares: the trials counted as analytics._scored counts them. */
import { importanceCount, importanceNotYet } from '../importance';
import { ITrialRecord, TrialState } from '../types';

function trial(
  number: number,
  state: TrialState,
  value: number | null,
  over: Partial<ITrialRecord> = {}
): ITrialRecord {
  return { number, state, value, fold_mean: null, intermediate: {}, ...over } as ITrialRecord;
}

const folds = (...scores: (number | null)[]) => Object.fromEntries(scores.map((v, i) => [String(i), v]));

describe('importanceCount', () => {
  it('counts the complete trials with a value when no pruned trial reported folds', () => {
    const trials = [
      trial(0, 'complete', 0.5),
      trial(1, 'complete', 0.7),
      trial(2, 'complete', null), // non-finite value: null in the record
      trial(3, 'pruned', null, { intermediate: folds(0.1, 0.2) }), // epochs, not folds: left out
      trial(4, 'fail', null),
      trial(5, 'running', null)
    ];
    expect(importanceCount(trials, { early_stopping: 'median' })).toBe(2);
    expect(importanceCount(trials, null)).toBe(2);
  });

  it('counts every trial that reported folds once a pruned one did (trial.folds: fold_mean)', () => {
    const trials = [
      trial(0, 'complete', 0.8, { fold_mean: 0.8, intermediate: folds(0.8, 0.8, 0.8) }),
      trial(1, 'complete', 0.6), // no fold scores: not compared on folds
      trial(2, 'pruned', null, { fold_mean: 0.3, intermediate: folds(0.3) }),
      trial(3, 'pruned', null, { intermediate: folds(0.2) }), // epochs: no fold_mean
      trial(4, 'pruned', null, { fold_mean: 0.4, intermediate: folds(null, 0.4) }) // fold 1 missing: none
    ];
    expect(importanceCount(trials, { early_stopping: 'median' })).toBe(2);
  });

  it('takes every intermediate value as a fold score in a kfold job', () => {
    const trials = [
      trial(0, 'complete', 0.8, { intermediate: folds(0.8, 0.8) }),
      trial(1, 'pruned', null, { intermediate: folds(0.3) }),
      trial(2, 'pruned', null, { intermediate: folds(0.2) }),
      trial(3, 'pruned', null)
    ];
    expect(importanceCount(trials, { early_stopping: 'kfold_wilcoxon' })).toBe(3);
    expect(importanceCount(trials, { early_stopping: 'off' })).toBe(1);
  });
});

describe('importanceNotYet', () => {
  it('says how many of the 5 trials it needs the job has', () => {
    expect(importanceNotYet(0)).toBe('not yet: 0 of the 5 trials with a value or fold scores it needs');
    expect(importanceNotYet(3)).toBe('not yet: 3 of the 5 trials with a value or fold scores it needs');
    expect(importanceNotYet(6)).toBe('not yet: 6 trials with a value or fold scores so far');
  });
});
