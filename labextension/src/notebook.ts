/** "Open in notebook": a cell that attaches the job's live dashboard, run at once. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { attachCode } from './attach';

/**
 * Insert the cell that shows the job's dashboard (`%hpo attach <name>`, see attachCode) into the active notebook
 * (a new one when none is open) and run it once the kernel is ready.
 */
export async function openInNotebook(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  name: string
): Promise<void> {
  let panel: NotebookPanel | null = tracker?.currentWidget ?? null;
  if (panel === null) {
    // name the kernel, or JupyterLab asks the user to pick one
    const specs = app.serviceManager.kernelspecs;
    await specs.ready;
    const kernelName = specs.specs?.default;
    const created = await app.commands.execute('notebook:create-new', kernelName ? { kernelName } : {});
    panel = created instanceof NotebookPanel ? created : (tracker?.currentWidget ?? null);
  }
  if (panel === null) {
    throw new Error('no notebook is open and a new one could not be created');
  }
  await panel.context.ready;
  const notebook = panel.content;
  const model = notebook.model;
  if (model === null) {
    throw new Error('the notebook has no model');
  }
  const only = notebook.widgets.length === 1 ? notebook.widgets[0] : null;
  const reuse = only !== null && only.model.sharedModel.getSource().trim() === '';
  if (!reuse) {
    notebook.activeCellIndex = notebook.widgets.length - 1;
    NotebookActions.insertBelow(notebook);
  } else {
    notebook.activeCellIndex = 0;
  }
  NotebookActions.changeCellType(notebook, 'code');
  notebook.activeCell?.model.sharedModel.setSource(attachCode(name));
  app.shell.activateById(panel.id);
  // running before the kernel is ready would be dropped silently
  await panel.sessionContext.ready;
  await panel.sessionContext.session?.kernel?.info;
  await NotebookActions.run(notebook, panel.sessionContext);
}
