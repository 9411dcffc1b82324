"""The "Tuning jobs" sidebar in a real JupyterLab and a real Chromium.

Jobs are launched with the CLI (``jupyter hpo launch SPEC --detach``) into the lab's own store
(``lab.home``), so the sidebar sees them through the server extension like a user's jobs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.conftest import wait_for
from tests.ui.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Lab,
    show_toggled_panel,
    wait_kernel_idle,
)

TAB = '.jp-SideBar li[data-id="jupyter-hpo-sidebar"]'
SIDEBAR = "#jupyter-hpo-sidebar"
HTML_IMG = "<img src=x onerror=alert(1)>"
HTML_SCRIPT = "<script>alert(2)</script>"

SLOW = '''
import time

def f(params):
    time.sleep(0.5)
    return params["x"] if params["kind"] == "plain" else params["x"] / 2
'''

HTML = '''
def g(params):
    if params["label"].startswith("<script"):
        raise ValueError("<img src=x onerror=alert(1)> in the error text")
    return 1.0
'''


def _spec(name: str, function: str, space: dict, **extra: object) -> dict:
    return {"name": name, "objective": {"metric": "score", "direction": "maximize"},
            "trial": {"function": function}, "space": space, **extra}


def _launch(lab: Lab, spec: dict, files: dict[str, str]) -> None:
    """Write the spec and its objective into the lab's root and launch it detached with the CLI."""
    for fname, text in files.items():
        (lab.root / fname).write_text(textwrap.dedent(text))
    path = lab.root / f"{spec['name']}.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    env = {**os.environ, "JUPYTER_HPO_HOME": str(lab.home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run([str(jupyter), "hpo", "launch", str(path), "--detach"], cwd=lab.root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """Chromium for this module only, so that Playwright's sync API (which keeps an asyncio loop running
    while it is open) is closed before pytest-jupyter's async tests (test_server.py) run later in the same
    session. If another module's session-wide Chromium is open already (its loop runs), share that one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        yield request.getfixturevalue("browser")  # the session fixture of tests/ui/conftest.py
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def store(lab: Lab) -> Iterator[Store]:
    """The lab's store, as the server extension sees it; running jobs are stopped at the end."""
    s = Store(home=lab.home)
    yield s
    for summary in api.list_jobs(s):
        if JobStatus(summary["status"]).is_active():
            api.attach(summary["name"], s).stop(wait=True, timeout=60)


def _summary(store: Store, name: str) -> dict:
    return api.attach(name, store).summary()


def _open_sidebar(page: Page, lab: Lab, path: str = "") -> None:
    """Open JupyterLab in a fresh workspace (no documents restored from other tests), then the panel."""
    workspace = f"hpo-{uuid.uuid4().hex[:8]}"
    page.goto(f"{lab.url}/lab/workspaces/{workspace}" + (f"/tree/{path}" if path else "") + "?reset")
    expect(page.locator(TAB)).to_have_attribute("title", re.compile("Tuning jobs"), timeout=60_000)
    _reveal_sidebar(page)
    expect(page.locator(f"{SIDEBAR} .jp-hpo-title")).to_have_text("Tuning jobs")


def _reveal_sidebar(page: Page) -> None:
    """Show the panel once JupyterLab has started, whether or not its restored layout had it open.

    The tab is a toggle, and the layout restorer may open the panel after the tab is on screen (the splash
    screen is not always in the page yet when a reload returns): so the tab is clicked only while the panel
    is not shown, and again if a restore toggled it back.
    """
    tab = page.locator(TAB)
    expect(tab).to_be_visible(timeout=60_000)
    # the splash screen goes once the saved layout is restored (which may have the panel open already)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    show_toggled_panel(page.locator(SIDEBAR), lambda: tab.get_attribute("aria-selected") == "true", tab.click)


def _trials_done(page: Page, name: str) -> int:
    text = page.locator(f'li.jp-hpo-job[data-job="{name}"] [data-testid=hpo-job-trials]').inner_text()
    done, total = text.split("/")
    assert total == "200"
    return int(done)


def _api_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/jupyter-hpo/api/" in r.url else None)
    return seen


def _console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_live_job_detail_open_in_notebook_and_stop(lab: Lab, page: Page, store: Store) -> None:
    console = _console_errors(page)
    requests = _api_requests(page)
    space = {"x": {"type": "float", "low": 0, "high": 1}, "kind": ["plain", "<b>half</b>"]}
    _launch(lab, _spec("slow-sweep", "slow.py:f", space, budget={"max_trials": 200, "max_parallel": 2}),
            {"slow.py": SLOW})

    _open_sidebar(page, lab)
    row = page.locator('li.jp-hpo-job[data-job="slow-sweep"]')
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_have_attribute("role", "listitem")
    expect(row.locator("[data-testid=hpo-job-status]")).to_have_text("running", timeout=30_000)
    expect(row.locator("[data-testid=hpo-job-backend]")).to_have_text("local")
    expect(row.locator("[data-testid=hpo-job-trials]")).to_have_text(re.compile(r"^\d+/200$"))
    expect(row.locator('[role="progressbar"]')).to_have_attribute("aria-valuemax", "200")

    # the count goes up by itself (polling), and the warm-start line fills in
    first = _trials_done(page, "slow-sweep")
    page.wait_for_function(
        """([sel, n]) => { const t = document.querySelector(sel)?.textContent || '';
                           return parseInt(t.split('/')[0], 10) >= n; }""",
        arg=[f'li.jp-hpo-job[data-job="slow-sweep"] [data-testid=hpo-job-trials]', first + 4],
        timeout=60_000,
    )
    assert _trials_done(page, "slow-sweep") >= first + 4
    expect(row.locator('[role="progressbar"]')).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]\d*$"))
    expect(row.locator("[data-testid=hpo-job-warm]")).to_contain_text("saved", timeout=30_000)
    expect(row.locator("svg.jp-hpo-sparkline polyline")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sidebar-running.png"))

    # hidden: no polling; shown again: polling resumes at once
    page.locator(TAB).click()
    expect(page.locator(SIDEBAR)).to_be_hidden()
    quiet_from = len(requests)
    done_then = _summary(store, "slow-sweep")["complete"]
    wait_for(lambda: _summary(store, "slow-sweep")["complete"] >= done_then + 8, timeout=60)  # >= 2 s of work
    assert requests[quiet_from:] == []
    with page.expect_request(lambda r: re.search(r"/jupyter-hpo/api/jobs(\?|$)", r.url) is not None):
        page.locator(TAB).click()

    # details: trial table filled incrementally, best-so-far chart, parameters as text
    row.click()
    detail = page.locator(f'{SIDEBAR} .jp-hpo-detail[data-job="slow-sweep"]')
    expect(detail).to_be_visible()
    table = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table]")
    expect(table.locator("tbody tr.jp-hpo-trial").first).to_be_visible(timeout=30_000)
    expect(table.locator("thead th")).to_contain_text(["#", "state", "score", "x", "kind", "start", "start-up s"])
    expect(table.locator("tbody .jp-hpo-warm").first).to_have_text("warm")
    expect(table.locator("tbody")).to_contain_text("<b>half</b>")
    expect(table.locator("tbody b")).to_have_count(0)
    expect(page.locator(f"{SIDEBAR} svg[data-testid=hpo-best-chart] polyline.jp-hpo-best-line")).to_have_count(1)
    rows_before = table.locator("tbody tr.jp-hpo-trial").count()
    expect(table.locator("tbody tr.jp-hpo-trial")).not_to_have_count(rows_before, timeout=30_000)
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-stop]")).to_be_enabled()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-resume]")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "sidebar-detail.png"))

    # Open in notebook: a new notebook with the attach cell, run, showing the live dashboard
    page.locator(f"{SIDEBAR} [data-testid=hpo-open-notebook]").click()
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
    expect(cell.locator(".jp-InputArea-editor")).to_contain_text("%hpo attach slow-sweep", timeout=60_000)
    expect(cell.locator(".jp-InputArea-editor")).to_contain_text("%load_ext jupyter_hpo")
    wait_kernel_idle(page)
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    dashboard = cell.locator(".jp-OutputArea .jp-hpo-dashboard")
    expect(dashboard).to_be_visible(timeout=60_000)
    expect(dashboard).to_contain_text("slow-sweep")
    page.screenshot(path=str(ARTIFACTS / "sidebar-open-in-notebook.png"))

    # Stop, confirmed in a dialog: the job stops (in the panel and in the store)
    page.locator(f"{SIDEBAR} [data-testid=hpo-stop]").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text('Stop the tuning job "slow-sweep"?')
    dialog.locator("button.jp-mod-accept").click()
    expect(dialog).to_be_hidden()
    status = page.locator(f"{SIDEBAR} .jp-hpo-detail [data-testid=hpo-job-status]")
    expect(status).to_have_text("stopped", timeout=60_000)
    assert api.attach("slow-sweep", store).status == JobStatus.STOPPED
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-resume]")).to_be_enabled()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-stop]")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "sidebar-stopped.png"))

    # back to the list: the stopped job's row says so
    page.get_by_role("button", name="Back to the job list").click()
    expect(row.locator("[data-testid=hpo-job-status]")).to_have_text("stopped")
    assert page.console_errors == []
    assert [e for e in console if "hpo" in e.lower()] == []


def test_open_in_the_active_notebook_and_resume(lab: Lab, page: Page, store: Store) -> None:
    import nbformat

    space = {"x": {"type": "float", "low": 0, "high": 1}, "kind": ["plain"]}
    # trials of 2 s: a stop (about 0.5 s to take effect) interrupts the one running
    _launch(lab, _spec("resumable", "slow2.py:f", space, budget={"max_trials": 200, "max_parallel": 1}),
            {"slow2.py": SLOW.replace("time.sleep(0.5)", "time.sleep(2)")})
    wait_for(lambda: _summary(store, "resumable")["complete"] >= 1, timeout=60)
    assert api.attach("resumable", store).stop(wait=True, timeout=60) == JobStatus.STOPPED
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "existing.ipynb")

    _open_sidebar(page, lab, path="existing.ipynb")
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    expect(cells).to_have_count(1, timeout=60_000)
    page.locator('li.jp-hpo-job[data-job="resumable"]').click()
    status = page.locator(f"{SIDEBAR} .jp-hpo-detail [data-testid=hpo-job-status]")
    expect(status).to_have_text("stopped", timeout=30_000)

    # the open notebook gets the cell (after its own), and only that cell runs
    page.locator(f"{SIDEBAR} [data-testid=hpo-open-notebook]").click()
    expect(cells).to_have_count(2, timeout=60_000)
    expect(cells.nth(0).locator(".jp-InputArea-editor")).to_have_text("x = 1")
    expect(cells.nth(1).locator(".jp-InputArea-editor")).to_contain_text("%hpo attach resumable")
    wait_kernel_idle(page)
    expect(cells.nth(1).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    expect(cells.nth(0).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[ \]"))
    expect(cells.nth(1).locator(".jp-OutputArea .jp-hpo-dashboard")).to_be_visible(timeout=60_000)

    # Resume: cancelling the dialog does nothing; confirming resumes the job
    resume = page.locator(f"{SIDEBAR} [data-testid=hpo-resume]")
    resume.click()
    page.locator(".jp-Dialog button.jp-mod-reject").click()
    expect(page.locator(".jp-Dialog")).to_be_hidden()
    assert api.attach("resumable", store).status == JobStatus.STOPPED

    resume.click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    expect(status).to_have_text("running", timeout=60_000)
    assert api.attach("resumable", store).status == JobStatus.RUNNING

    # the trial the stop interrupted runs again first (one at a time): both the sidebar's table and the
    # dashboard mark the re-run with the trial it repeats
    job = api.attach("resumable", store)
    interrupted = [r["number"] for r in job.trial_records() if r["interrupted"]]
    assert len(interrupted) == 1, job.trial_records()
    wait_for(lambda: any(r["rerun_of"] == interrupted[0] for r in job.trial_records()), timeout=60)
    rerun = next(r["number"] for r in job.trial_records() if r["rerun_of"] == interrupted[0])
    mark = page.locator(f'{SIDEBAR} [data-testid=hpo-trial-table] tr[data-trial="{rerun}"] [data-mark=rerun]')
    expect(mark).to_have_text(f"re-run of {interrupted[0]}", timeout=30_000)
    expect(mark).to_have_attribute("title", re.compile(rf"^runs trial {interrupted[0]} again with its parameters"))
    expect(page.locator(f"{SIDEBAR} [data-mark=rerun]")).to_have_count(1)
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-trial-legend]")).to_have_count(0)  # no infeasible trial
    page.screenshot(path=str(ARTIFACTS / "sidebar-resumed.png"))
    # the notebook's dashboard of the job, shown while it was stopped, follows it again (it stayed "stopped")
    expect(cells.nth(1).locator('[data-testid="hpo-status"]')).to_have_text("running", timeout=30_000)
    badge = cells.nth(1).locator(".jp-OutputArea .hpo-badge-rerun")
    expect(badge).to_have_count(1, timeout=60_000)
    expect(badge).to_have_text(f"re-run of {interrupted[0]}")
    page.screenshot(path=str(ARTIFACTS / "dashboard-rerun.png"))
    api.attach("resumable", store).stop(wait=True, timeout=60)
    assert page.console_errors == []


def test_server_text_is_rendered_as_text(lab: Lab, page: Page, store: Store) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    space = {"label": [HTML_IMG, HTML_SCRIPT]}
    _launch(lab, _spec("html-text", "markup_objective.py:g", space, strategy="grid", budget={"max_trials": 2}),
            {"markup_objective.py": HTML})
    assert api.attach("html-text", store).wait(timeout=90) == JobStatus.COMPLETED

    _open_sidebar(page, lab)
    page.locator('li.jp-hpo-job[data-job="html-text"]').click()
    table = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table]")
    expect(table.locator("tbody tr.jp-hpo-trial")).to_have_count(2, timeout=30_000)
    expect(table.locator("tbody")).to_contain_text(HTML_IMG)
    expect(table.locator("tbody")).to_contain_text(HTML_SCRIPT)
    failed = table.locator("tbody tr.jp-hpo-trial-fail")
    expect(failed.locator(".jp-hpo-note")).to_contain_text("<img src=x onerror=alert(1)> in the error text")
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-best]")).to_contain_text("score 1")
    expect(page.locator(f"{SIDEBAR} .jp-hpo-best-params")).to_have_text(f"label={HTML_IMG}")
    sidebar = page.locator(SIDEBAR)
    expect(sidebar.locator("img")).to_have_count(0)
    expect(sidebar.locator("script")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "sidebar-html-as-text.png"))
    assert dialogs == []
    assert page.console_errors == []


def test_not_enabled_message_when_the_api_404s(lab: Lab, page: Page) -> None:
    page.route("**/jupyter-hpo/api/jobs*", lambda route: route.fulfill(
        status=404, content_type="text/html", body="<html><body>404: Not Found</body></html>"))
    _open_sidebar(page, lab)
    message = page.locator("[data-testid=hpo-not-enabled]")
    expect(message).to_have_text(
        "The jupyter-hpo server extension is not enabled: run `jupyter server extension enable jupyter_hpo`",
        timeout=30_000)
    expect(page.locator("li.jp-hpo-job")).to_have_count(0)
    assert page.console_errors == []


def test_empty_state_and_inline_error(lab: Lab, page: Page) -> None:
    answer = {"status": 200, "body": json.dumps({"jobs": []})}
    page.route("**/jupyter-hpo/api/jobs*", lambda route: route.fulfill(
        status=answer["status"], content_type="application/json", body=answer["body"]))
    _open_sidebar(page, lab)
    empty = page.locator("[data-testid=hpo-empty]")
    expect(empty).to_contain_text("jupyter hpo launch spec.yaml", timeout=30_000)
    expect(empty).to_contain_text("%hpo launch")

    answer.update(status=503, body=json.dumps({"reason": "<b>the store is locked</b>"}))
    page.get_by_role("button", name="Refresh the tuning jobs").click()
    error = page.locator(f"{SIDEBAR} [data-testid=hpo-error]")
    expect(error).to_have_text("Could not load tuning jobs: <b>the store is locked</b>", timeout=30_000)
    assert page.console_errors == []


def _set_theme(page: Page, label: str) -> None:
    page.keyboard.press("Escape")  # no menu left open
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    exact = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$"))
    page.locator('.lm-Menu-item[data-command="apputils:change-theme"]', has=exact).click()


_LUMINANCE = """el => { const px = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    const cs = getComputedStyle(el);
    return [lum(px(cs.backgroundColor)), lum(px(cs.color))]; }"""


#: the class lists of the sidebar's filled badges (components/TrialTable.tsx, JobList.tsx)
_BADGES = ["jp-hpo-badge jp-hpo-warm", "jp-hpo-badge jp-hpo-cold", "jp-hpo-badge jp-hpo-state-complete",
           "jp-hpo-badge jp-hpo-state-fail", "jp-hpo-badge jp-hpo-state-pruned", "jp-hpo-badge jp-hpo-state-running",
           "jp-hpo-badge jp-hpo-status-completed", "jp-hpo-badge jp-hpo-status-failed",
           "jp-hpo-badge jp-hpo-status-stale", "jp-hpo-badge jp-hpo-status-running"]
#: each class list's contrast ratio (WCAG 2), drawn in the panel with the theme's styles
_CONTRAST = """(panel, classes) => {
    const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const rgba = s => s.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    const out = {};
    for (const cls of classes) {
      const el = document.createElement('span');
      el.className = cls;
      el.textContent = 'warm';
      panel.appendChild(el);
      const cs = getComputedStyle(el);
      const bg = rgba(cs.backgroundColor), fg = rgba(cs.color);
      const a = fg.length > 3 ? fg[3] : 1;  // the text's alpha, over its own fill
      const mixed = [0, 1, 2].map(i => a * fg[i] + (1 - a) * bg[i]);
      const [l1, l2] = [lum(bg), lum(mixed)].sort((x, y) => y - x);
      out[cls] = Math.round((l1 + 0.05) / (l2 + 0.05) * 100) / 100;
      el.remove();
    }
    return out; }"""


def test_follows_the_dark_theme(lab: Lab, page: Page) -> None:
    summary = {"name": "themed", "status": "running", "reason": "", "backend": "local", "metric": "auc",
               "direction": "maximize", "max_trials": 10, "trials": 3, "complete": 2, "pruned": 0, "failed": 0,
               "interrupted": 0, "running": 1, "best": {"number": 1, "value": 0.8, "params": {"x": 1}},
               "warm_starts": 2, "cold_starts": 1, "cold_startup_s": 2.0, "warm_startup_s": 0.01,
               "startup_saved_s": 4.0, "created": 1.0, "ended": None}
    page.route("**/jupyter-hpo/api/jobs*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"jobs": [summary]})))
    page.route("**/jupyter-hpo/api/jobs/themed/trials*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"trials": []})))
    _open_sidebar(page, lab)
    card = page.locator('li.jp-hpo-job[data-job="themed"] .jp-hpo-job-open')
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator("[data-testid=hpo-job-trials]")).to_have_text("2/10")
    background, text = card.evaluate(_LUMINANCE)
    assert background > 0.8 and text < 0.4, (background, text)
    contrast = page.locator(SIDEBAR).evaluate(_CONTRAST, _BADGES)
    assert all(ratio >= 4.5 for ratio in contrast.values()), contrast  # the light theme's too
    try:
        _set_theme(page, "JupyterLab Dark")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=30_000)
        page.wait_for_function(
            "el => getComputedStyle(el).backgroundColor !== 'rgb(255, 255, 255)'", arg=card.element_handle())
        background, text = card.evaluate(_LUMINANCE)
        assert background < 0.3 and text > 0.6, (background, text)
        # the trial table's badges, as it renders them (their fills stay light in the dark theme, where its light
        # font on them read at about 1.2:1): every one readable, WCAG's 4.5:1 for normal text
        contrast = page.locator(SIDEBAR).evaluate(_CONTRAST, _BADGES)
        assert all(ratio >= 4.5 for ratio in contrast.values()), contrast
        page.screenshot(path=str(ARTIFACTS / "sidebar-dark.png"))
    finally:
        _set_theme(page, "JupyterLab Light")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true", timeout=30_000)
    assert page.console_errors == []
