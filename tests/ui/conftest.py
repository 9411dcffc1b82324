"""A real JupyterLab server and headless Chromium (Debian's /usr/bin/chromium) for browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
#: The front ends the dashboard's browser tests run in. One server serves both (JupyterLab's, with the
#: ``notebook`` package installed): JupyterLab 4 under /lab, Notebook 7 under /tree and /notebooks.
FRONT_ENDS = ("lab", "notebook")
#: Errors Notebook 7.6 throws from its own bundle (/static/notebook/) while a page loads, not from jupyter-hpo:
#: its shortcuts-settings plugin on every load (seen with jupyter-hpo disabled too), and now and then (on a
#: busy machine) its file browser's restore-on-route code, which runs before the command it calls exists.
NOTEBOOK_OWN_ERRORS = ("Cannot read properties of undefined (reading 'schema')",
                       "Command 'filebrowser:open-path' not registered.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: its URL, its root folder, the jupyter-hpo home its kernels use and its user
    settings folder."""

    def __init__(self, url: str, root: Path, home: Path, log: Path, settings: Path) -> None:
        self.url, self.root, self.home, self.log, self.settings = url, root, home, log, settings

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (its kernels write there too): for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"


def notebook_url(lab: Lab, front_end: str, name: str, lab_path: str | None = None) -> str:
    """Where the notebook ``name`` (in the lab's root) opens: Notebook 7's notebook page, or in JupyterLab
    ``lab_path`` (default ``/lab/tree/<name>``)."""
    if front_end == "notebook":
        return f"{lab.url}/notebooks/{name}"
    return lab.url + (lab_path or f"/lab/tree/{name}")


@pytest.fixture(params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs in JupyterLab 4 and in Notebook 7."""
    return request.param


def _own_notebook_error(error: object) -> bool:
    """One of Notebook's own known errors: its message, and every frame of its stack in Notebook's bundle."""
    frames = [line for line in (getattr(error, "stack", "") or "").splitlines()[1:] if "http" in line]
    return (getattr(error, "message", "") in NOTEBOOK_OWN_ERRORS and bool(frames)
            and all("/static/notebook/" in f for f in frames))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (`.ci/run` does)")
    base = tmp_path_factory.mktemp("lab")
    root, home, workspaces, settings = (base / n for n in ("root", "hpo-home", "workspaces", "settings"))
    for d in (root, home, workspaces, settings):
        d.mkdir()
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = _free_port()
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    log = (base / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--allow-root",
         f"--LabApp.workspaces_dir={workspaces}", f"--LabApp.user_settings_dir={settings}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {base / 'lab.log'}") from None
            time.sleep(0.25)
    try:
        yield Lab(url, root, home, base / "lab.log", settings)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def comms_on_main_shell(lab: Lab) -> Iterator[None]:
    """JupyterLab's Kernel setting "Comms over subshells" set to Disabled for the pages this test opens: comm
    messages then go to the kernel's main shell, which a running cell holds (as with ipykernel < 7)."""
    path = lab.settings / "@jupyterlab" / "apputils-extension" / "kernels-settings.jupyterlab-settings"
    path.write_text(json.dumps({"commsOverSubshells": "disabled"}))
    try:
        yield
    finally:
        path.unlink()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: None if _own_notebook_error(e) else errors.append(str(e)))
    if os.environ.get("HPO_UI_DEBUG"):
        pg.on("console", lambda m: print("console:", m.type, m.text[:300]))
    pg.console_errors = errors
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()


def busy_cell(gate: Path) -> str:
    """A cell that keeps the kernel busy (as ``job.wait()`` or training would) until the test creates ``gate``, then
    prints "the busy cell ended"; it gives up after 300 s, so a test that fails first leaves no kernel busy for ever.
    A gate, not a fixed sleep: the test holds the kernel busy exactly as long as its checks need, on any machine."""
    return (f"import os, time\n_end = time.time() + 300\n"
            f"while not os.path.exists({str(gate)!r}) and time.time() < _end:\n    time.sleep(0.1)\n"
            f"print('the busy cell ended')")


def show_toggled_panel(panel: object, shown: Callable[[], bool], toggle: Callable[[], None], tries: int = 6) -> None:
    """Show a panel whose control is a toggle (a sidebar tab, View > Left Sidebar): toggle only while it is not
    ``shown()``, and again if a layout being restored toggled it back; Playwright's message after ``tries`` x 5 s."""
    from playwright.sync_api import expect

    for attempt in range(tries):
        if not shown():
            toggle()
        try:
            expect(panel).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def wait_kernel_idle(page: object, timeout_ms: int = 90_000) -> None:
    """Wait until the kernel is idle (Run All before that is silently dropped): JupyterLab's status bar says
    so, or (Notebook 7, which has no status bar) the notebook's execution indicator."""
    page.wait_for_function(
        """() => { const bar = document.querySelector('#jp-main-statusbar');
                   if (bar) { const t = bar.textContent || '';
                              return t.includes('Idle') && !/Connecting|Initializing|Starting/.test(t); }
                   const dot = document.querySelector('.jp-Notebook-ExecutionIndicator');
                   return dot !== null && dot.getAttribute('data-status') === 'idle'; }""",
        timeout=timeout_ms,
    )


def run_all_cells(page: object, attempts: int = 3) -> None:
    """Run every cell of the open notebook: Run > Run All Cells, again if that click was dropped."""
    started = """() => [...document.querySelectorAll('.jp-Cell .jp-InputArea-prompt')]
                       .every(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    for _ in range(attempts):
        # Notebook 7 sometimes asks which kernel to start (its kernel specs not loaded yet when the page opened, on
        # a loaded machine); its preselected choice is the notebook's own kernel, which a user would accept
        choose = page.locator(".jp-Dialog", has_text="Select Kernel")
        if choose.count():
            choose.locator("button.jp-mod-accept").click()
            wait_kernel_idle(page)
        try:
            page.locator(".jp-Notebook .jp-Cell").first.click(timeout=15_000)  # a dialog may come up meanwhile
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator('[data-command="runmenu:run-all"]').click()
            page.wait_for_function(started, timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: try the menu again
            continue
    raise AssertionError("Run All Cells did not start every cell")


# pytest-jupyter's autouse fixtures close the event loop that Playwright's sync API runs on;
# browser tests start their own server, so they need neither.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    yield None
