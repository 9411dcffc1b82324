/**
 * The dashboard's Refit and Register logic (labextension/src/dashboard.ts): when the buttons are enabled, the
 * register request the form makes, and the refit line. The buttons themselves are tested in a real notebook
 * (tests/ui/test_dashboard_handoff.py) and their messages against a real kernel side (tests/test_widgets_handoff.py).
 */
import { handoffBlocked, refitText, registerRequest, REGISTER_LABELS } from '../dashboard';
import * as sidebar from '../registry';

describe('handoffBlocked', () => {
  it('blocks a job that has not finished, and one without a complete trial', () => {
    const best = { number: 2, value: 0.9, params: { x: 1 } };
    for (const status of ['', 'pending', 'running', 'stopping']) {
      expect(handoffBlocked(status, { best })).toMatch(/has not finished/);
    }
    expect(handoffBlocked('completed', { best: null })).toMatch(/no complete trial/);
    expect(handoffBlocked('failed', {})).toMatch(/no complete trial/);
  });

  it('lets a finished job with a complete trial be refit and registered', () => {
    const best = { number: 2, value: 0.9, params: { x: 1 } };
    for (const status of ['completed', 'stopped', 'failed', 'stale']) {
      expect(handoffBlocked(status, { best })).toBe('');
    }
  });
});

describe('registerRequest', () => {
  it('makes the MLflow and SageMaker requests the kernel and the REST API take', () => {
    expect(registerRequest({ to: 'mlflow', name: ' credit-model ', extra: '' })).toEqual({
      request: { to: 'mlflow', model_name: 'credit-model' }
    });
    expect(registerRequest({ to: 'mlflow', name: 'm', extra: 'http://127.0.0.1:5000 ' })).toEqual({
      request: { to: 'mlflow', model_name: 'm', tracking_uri: 'http://127.0.0.1:5000' }
    });
    expect(registerRequest({ to: 'sagemaker', name: 'credit-models', extra: 'eu-west-1' })).toEqual({
      request: { to: 'sagemaker', group: 'credit-models', region: 'eu-west-1' }
    });
  });

  it('says what is missing instead of sending an empty name', () => {
    expect(registerRequest({ to: 'mlflow', name: '  ', extra: 'x' })).toEqual({ error: 'Model name is needed.' });
    expect(registerRequest({ to: 'sagemaker', name: '', extra: '' })).toEqual({
      error: 'Model package group is needed.'
    });
  });
});

describe('refitText', () => {
  it('shows the refit job, its status, then its model or why it has none', () => {
    expect(refitText({})).toBe('');
    expect(refitText(null)).toBe('');
    expect(refitText({ job: 'a-refit', status: 'running', model: null, error: '' })).toBe(
      'Refit a-refit: running\u2026'
    );
    expect(refitText({ job: 'a-refit', status: 'completed', model: '/h/jobs/a-refit/artifacts/0', error: '' })).toBe(
      'Refit a-refit: completed; model: /h/jobs/a-refit/artifacts/0'
    );
    expect(refitText({ job: 'a-refit', status: 'failed', model: null, error: 'its trial is fail' })).toBe(
      'Refit a-refit: failed. its trial is fail'
    );
  });
});

describe('the sidebar (registry.ts) and the dashboard (dashboard.ts, which imports nothing) agree', () => {
  it('on when Refit and Register are allowed', () => {
    const best = { number: 0, value: 1, params: {} };
    for (const status of ['', 'pending', 'running', 'stopping', 'completed', 'stopped', 'failed', 'stale']) {
      for (const summary of [{ best }, { best: null }, {}]) {
        expect(sidebar.handoffBlocked(status, summary)).toBe(handoffBlocked(status, summary));
      }
    }
  });

  it('on the register request a form makes, and the labels', () => {
    expect(sidebar.REGISTER_LABELS).toEqual(REGISTER_LABELS);
    for (const to of ['mlflow', 'sagemaker'] as const) {
      for (const [name, extra] of [['m', ''], [' m ', ' x '], ['', 'x'], ['  ', '']]) {
        expect(sidebar.registerRequest({ to, name, extra })).toEqual(registerRequest({ to, name, extra }));
      }
    }
  });
});
