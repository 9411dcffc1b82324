/** The jupyter-hpo JupyterLab extension: the "Tuning jobs" sidebar (wiring only). */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { HpoClient } from './client';
import { HpoModel } from './model';
import { openInNotebook } from './notebook';
import { HpoSidebar, SIDEBAR_ID } from './panel';

/** Where the browser keeps the sidebar's mine/all choice. */
const MINE_KEY = 'jupyter-hpo:sidebar:mine-only';

/** The stored mine/all choice (false, all jobs, when none is stored or storage is unavailable). */
function loadMineOnly(): boolean {
  try {
    return window.localStorage.getItem(MINE_KEY) === 'true';
  } catch {
    return false;
  }
}

function saveMineOnly(mineOnly: boolean): void {
  try {
    window.localStorage.setItem(MINE_KEY, String(mineOnly));
  } catch {
    // storage unavailable (private mode, quota): the choice lasts for this page only
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-hpo:sidebar',
  description: 'A sidebar of tuning jobs: live progress, trials, stop, resume.',
  autoStart: true,
  optional: [ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null
  ) => {
    const model = new HpoModel({ client: new HpoClient() });
    model.setMineOnly(loadMineOnly());
    let saved = model.mineOnly;
    model.changed.connect(() => {
      if (model.mineOnly !== saved) {
        saved = model.mineOnly;
        saveMineOnly(saved);
      }
    });
    const sidebar = new HpoSidebar(model, name => openInNotebook(app, tracker, name));
    try {
      app.shell.add(sidebar, 'left', { rank: 900 });
    } catch (error) {
      // a shell without a left area (some third-party front ends): no sidebar, no crash
      console.warn('jupyter-hpo: the shell has no left area; the sidebar is not shown.', error);
      sidebar.dispose();
      return;
    }
    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
    }
    app.commands.addCommand('jupyter-hpo:open', {
      label: 'Show Tuning Jobs',
      caption: 'Show the tuning jobs sidebar',
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
  }
};

export default plugin;
