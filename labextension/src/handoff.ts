/**
 * Refit and Register from the sidebar's job detail: the two REST routes (`POST jobs/{name}/refit`, `.../register`)
 * and the JupyterLab dialogs that ask for what they need and show the result.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { actionInit } from './client';
import { IRegisterForm, REGISTER_LABELS, registerRequest } from './registry';
import { requestAPI, RequestFn } from './handler';
import { describeError, HpoModel } from './model';
import { IJobReply, IJobSummary, IOwner, IRegisteredReply, RegisterRequest } from './types';

/** The handoff routes of the REST API. */
export class HandoffClient {
  constructor(private readonly request: RequestFn = requestAPI) {}

  /** `POST jobs/{name}/refit`: the refit job (just started, or the current one). */
  async refitJob(name: string, force = false): Promise<IJobSummary> {
    return (await this.request<IJobReply>(`jobs/${encodeURIComponent(name)}/refit`, actionInit(force))).job;
  }

  /** `POST jobs/{name}/register`: what was registered, and its URI. */
  registerModel(name: string, body: RegisterRequest): Promise<IRegisteredReply> {
    return this.request<IRegisteredReply>(`jobs/${encodeURIComponent(name)}/register`, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }
}

/** What the Refit confirmation says; `owner` is the job's owner when it is another user's. */
export function refitPrompt(name: string, owner: IOwner | null): string {
  const whose = owner ? ` It belongs to ${owner.name}, not to you; you are recorded as who refit it.` : '';
  return (
    `Run the best parameters of "${name}" once more as the refit job "${name}-refit" (trial.is_refit() is True ` +
    `in it; the trial's code decides what a refit means, e.g. training on all the data).${whose}`
  );
}

/** The Register dialog's form: where to register, the model's name or group, and the optional extra. */
class RegisterBody extends Widget implements Dialog.IBodyWidget<IRegisterForm> {
  private readonly to = document.createElement('select');
  private readonly name = document.createElement('input');
  private readonly extra = document.createElement('input');

  constructor(owner: IOwner | null) {
    super();
    this.addClass('jp-hpo-register-form');
    for (const [value, text] of [
      ['mlflow', 'MLflow Model Registry'],
      ['sagemaker', 'SageMaker Model Registry']
    ]) {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = text;
      this.to.append(option);
    }
    this.to.setAttribute('data-testid', 'hpo-register-to');
    this.to.setAttribute('aria-label', 'Register in');
    this.name.setAttribute('data-testid', 'hpo-register-name');
    this.extra.setAttribute('data-testid', 'hpo-register-extra');
    this.to.addEventListener('change', () => this.label());
    this.label();
    const note = document.createElement('p');
    note.textContent = owner
      ? `The job belongs to ${owner.name}, not to you; you are recorded as who registered its model.`
      : "The refit's model is registered when the job was refit, else the best trial's.";
    this.node.append(this.to, this.name, this.extra, note);
  }

  getValue(): IRegisterForm {
    return { to: this.to.value === 'sagemaker' ? 'sagemaker' : 'mlflow', name: this.name.value, extra: this.extra.value };
  }

  private label(): void {
    const labels = REGISTER_LABELS[this.to.value === 'sagemaker' ? 'sagemaker' : 'mlflow'];
    for (const [input, text] of [
      [this.name, labels.name],
      [this.extra, labels.extra]
    ] as const) {
      input.placeholder = text;
      input.setAttribute('aria-label', text);
    }
  }
}

/** A dialog body of text, with the URI in a `<code>` the user can select and copy. */
function resultBody(text: string, uri: string, notes: string[]): Widget {
  const body = new Widget();
  const p = document.createElement('p');
  p.textContent = text;
  const code = document.createElement('code');
  code.textContent = uri;
  code.setAttribute('data-testid', 'hpo-registered-uri');
  code.style.userSelect = 'all';
  body.node.append(p, code);
  for (const n of notes) {
    const note = document.createElement('p');
    note.textContent = `Note: ${n}`;
    body.node.append(note);
  }
  return body;
}

/** Confirm, start the refit through the REST API, and show the refit job (polled like any job). */
export async function refitFromSidebar(model: HpoModel, client: HandoffClient, name: string): Promise<void> {
  const owner = model.otherOwner(name);
  const label = owner ? 'Refit anyway' : 'Refit';
  const result = await showDialog({
    title: owner ? `Refit ${owner.name}'s job` : 'Refit job',
    body: refitPrompt(name, owner),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label, ariaLabel: `${label} job ${name}` })]
  });
  if (!result.button.accept || model.isDisposed) {
    return;
  }
  try {
    const refit = await client.refitJob(name, owner !== null);
    model.select(refit.name);
    void model.refresh();
  } catch (error) {
    model.setActionError(name, `Refit failed: ${describeError(error)}`);
  }
}

/** Ask where to register (a form dialog), register through the REST API, and show the URI (or the error). */
export async function registerFromSidebar(model: HpoModel, client: HandoffClient, name: string): Promise<void> {
  const owner = model.otherOwner(name);
  const result = await showDialog({
    title: `Register the model of ${name}`,
    body: new RegisterBody(owner),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Register', ariaLabel: `Register the model of ${name}` })],
    focusNodeSelector: 'input'
  });
  if (!result.button.accept || result.value === null || model.isDisposed) {
    return;
  }
  const made = registerRequest(result.value);
  if (!made.request) {
    model.setActionError(name, `Register failed: ${made.error}`);
    return;
  }
  model.setActionError(name, '');
  let reply: IRegisteredReply;
  try {
    const body = { ...made.request, ...(owner ? { force: true } : {}) } as unknown as RegisterRequest;
    reply = await client.registerModel(name, body);
  } catch (error) {
    model.setActionError(name, `Register failed: ${describeError(error)}`);
    return;
  }
  const where = reply.registry === 'sagemaker' ? 'SageMaker Model Registry' : 'MLflow Model Registry';
  await showDialog({
    title: 'Model registered',
    body: resultBody(`Job ${reply.job}'s model is registered in the ${where}:`, reply.uri, reply.notes),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
