/**
 * The sidebar's Refit and Register rules: when they are allowed, and the register request a form makes.
 * dashboard.ts (the anywidget module, which may import nothing at run time) has the same functions; a jest test
 * (`__tests__/dashboard_handoff.spec.ts`) checks that both give the same answers.
 */
import { IDashboardSummary } from './types';

const ACTIVE: ReadonlySet<string> = new Set(['pending', 'running', 'stopping']);

/** What the Register form holds: where, the model's name (MLflow) or group (SageMaker), and the optional extra. */
export interface IRegisterForm {
  to: 'mlflow' | 'sagemaker';
  name: string;
  extra: string;
}

/** The Register form's labels for each destination. */
export const REGISTER_LABELS = {
  mlflow: { name: 'Model name', extra: 'Tracking URI (optional, http(s)://)' },
  sagemaker: { name: 'Model package group', extra: 'Region (optional)' }
};

/** The register request the form makes (the server checks it again), or what is missing. */
export function registerRequest(form: IRegisterForm): { request?: Record<string, string>; error?: string } {
  const name = form.name.trim();
  const extra = form.extra.trim();
  if (!name) {
    return { error: `${REGISTER_LABELS[form.to].name} is needed.` };
  }
  if (form.to === 'mlflow') {
    return { request: { to: 'mlflow', model_name: name, ...(extra ? { tracking_uri: extra } : {}) } };
  }
  return { request: { to: 'sagemaker', group: name, ...(extra ? { region: extra } : {}) } };
}

/** Why Refit and Register are disabled ('' when they are enabled): the job must have finished with a complete trial. */
export function handoffBlocked(status: string, summary: IDashboardSummary): string {
  if (!status || ACTIVE.has(status)) {
    return 'The job has not finished: refit or register it once it has.';
  }
  if (!summary.best) {
    return 'The job has no complete trial: there is nothing to refit or register.';
  }
  return '';
}
