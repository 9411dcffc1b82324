/** The sidebar widget: renders the model, drives its polling from the panel's visibility. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { campaignPrompt } from './campaigns';
import { CampaignClient } from './client';
import { HpoView, IViewActions } from './components/HpoView';
import { HandoffClient, refitFromSidebar, registerFromSidebar } from './handoff';
import { hpoIcon } from './icon';
import { describeError, HpoModel } from './model';
import { actionPrompt, IActionPrompt } from './owners';
import { IOwner } from './types';

/** The DOM id of the sidebar (and of its tab's `data-id`). */
export const SIDEBAR_ID = 'jupyter-hpo-sidebar';

/** Opens a job in a notebook; supplied by the plugin (it knows the notebook tracker). */
export type OpenInNotebook = (name: string) => Promise<void>;

/** The "Tuning jobs" sidebar. */
export class HpoSidebar extends ReactWidget {
  constructor(
    readonly model: HpoModel,
    private readonly openInNotebook: OpenInNotebook
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-hpo-sidebar');
    this.title.icon = hpoIcon;
    this.title.caption = 'Tuning jobs';
    this.title.label = '';
    this.node.setAttribute('aria-label', 'Tuning jobs');
    this._actions = {
      select: name => this.model.select(name),
      back: () => this.model.select(null),
      refresh: () => void this.model.refresh(),
      setMineOnly: mineOnly => this.model.setMineOnly(mineOnly),
      stop: name => void this._confirm('stop', name),
      resume: name => void this._confirm('resume', name),
      openInNotebook: name => void this._open(name),
      refit: name => void refitFromSidebar(this.model, this._handoff, name),
      register: name => void registerFromSidebar(this.model, this._handoff, name),
      campaignAction: (action, name) => void this._confirmCampaign(action, name)
    };
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <HpoView model={this.model} actions={this._actions} />}
      </UseSignal>
    );
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.model.dispose();
    }
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setVisible(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  private async _confirm(action: 'stop' | 'resume', name: string): Promise<void> {
    const owner = this.model.otherOwner(name);
    const prompt = actionPrompt(action, name, owner);
    if (!(await this._ask(prompt, `${prompt.label} job ${name}`, action === 'stop'))) {
      return;
    }
    const force = owner !== null; // confirmed with the owner named: the server records who did it
    await (action === 'stop' ? this.model.stop(name, force) : this.model.resume(name, force));
  }

  /** Stop or resume a campaign: all its jobs, also those the mine/all filter hides; force when any is another's. */
  private async _confirmCampaign(action: 'stop' | 'resume', name: string): Promise<void> {
    const others: IOwner[] = [];
    for (const job of this.model.jobs) {
      const owner = job.campaign?.name === name ? this.model.otherOwner(job.name) : null;
      if (owner !== null) {
        others.push(owner);
      }
    }
    const prompt = campaignPrompt(action, name, others);
    if (!(await this._ask(prompt, `${prompt.label} campaign ${name}`, action === 'stop'))) {
      return;
    }
    const force = others.length > 0;
    await this.model.actOnCampaign(name, () =>
      action === 'stop' ? this._campaigns.stop(name, force) : this._campaigns.resume(name, force)
    );
  }

  /** Show a stop or resume confirmation (a warning button for stop); true when accepted and the panel lives on. */
  private async _ask(prompt: IActionPrompt, ariaLabel: string, warn: boolean): Promise<boolean> {
    const button = { label: prompt.label, ariaLabel };
    const result = await showDialog({
      title: prompt.title,
      body: prompt.body,
      buttons: [Dialog.cancelButton(), warn ? Dialog.warnButton(button) : Dialog.okButton(button)]
    });
    return result.button.accept && !this.isDisposed;
  }

  private async _open(name: string): Promise<void> {
    try {
      await this.openInNotebook(name);
    } catch (error) {
      this.model.setActionError(name, `Could not open a notebook: ${describeError(error)}`);
    }
  }

  private readonly _actions: IViewActions;
  private readonly _handoff = new HandoffClient();
  private readonly _campaigns = new CampaignClient();
}
