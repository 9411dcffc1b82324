"""A real ipykernel and the messages JupyterLab 4.4+/Notebook 7 send: each page sends comm messages to a kernel
subshell it creates, and deletes it when the page is reloaded or closed.

The widgets must keep answering the next page. ipykernel 7.4 re-routes a comm's incoming messages to the
subshell of the message the kernel last published on it from; for the dashboard, which publishes from its
poll thread, that was the reloaded page's subshell, and the new page's Stop was dropped ("Unknown
subshell_id"): CI caught it once in a browser test (a Stop after a reload in Notebook 7 that did nothing).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from jupyter_hpo import api
from tests.conftest import REPO, wait_for
from tests.ui.conftest import busy_cell


class Page:
    """What a front end does over a kernel's channels: create and delete subshells, send comm messages."""

    def __init__(self, kc: Any) -> None:
        self.kc = kc

    def run(self, code: str) -> str:
        printed: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError(f"the cell failed: {msg['content']['evalue']}")

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(printed).strip()

    def control(self, msg_type: str, **content: Any) -> dict[str, Any]:
        msg = self.kc.session.msg(msg_type, content)
        self.kc.control_channel.send(msg)
        while True:
            reply = self.kc.control_channel.get_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                assert reply["content"]["status"] == "ok", reply["content"]
                return reply["content"]

    def new_subshell(self) -> str:
        return self.control("create_subshell_request")["subshell_id"]

    def close_subshell(self, subshell: str) -> None:
        self.control("delete_subshell_request", subshell_id=subshell)

    def comm_send(self, comm_id: str, data: dict[str, Any], subshell: str) -> None:
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        msg["header"]["subshell_id"] = subshell
        self.kc.shell_channel.send(msg)

    def custom(self, comm_id: str, content: dict[str, Any], subshell: str) -> None:
        self.comm_send(comm_id, {"method": "custom", "content": content}, subshell)

    def wait_custom(self, comm_id: str, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The next custom message of ``kind`` the widget sends, or fail with what came instead."""
        end, seen = time.monotonic() + timeout, []
        while time.monotonic() < end:
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=0.2)
            except queue.Empty:
                continue
            if msg["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id:
                content = msg["content"]["data"].get("content")
                if isinstance(content, dict):
                    seen.append(content.get("type"))
                    if content.get("type") == kind:
                        return content
        raise AssertionError(f"no {kind!r} from the widget in {timeout} s; it sent {seen[-10:]}; the kernel "
                             f"answered on shell: {self.shell_errors()}")

    def shell_errors(self) -> list[str]:
        errors = []
        while True:
            try:
                msg = self.kc.shell_channel.get_msg(timeout=0.1)
            except queue.Empty:
                return errors
            if msg["content"].get("status") == "error":
                errors.append(f"{msg['msg_type']}: {msg['content'].get('evalue')}")


@pytest.fixture
def page(home) -> Iterator[Page]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONPATH": str(REPO),
                         "JUPYTER_HPO_STORE_URL": ""})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        p = Page(kc)
        if p.run("import ipykernel.kernelbase as k; print(hasattr(k.Kernel, '_supports_kernel_subshells'))") != "True":
            raise AssertionError("this ipykernel has no subshells (ipykernel >= 7 does)")
        yield p
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@contextmanager
def main_shell_busy(page: Page, folder: Path) -> Iterator[Path]:
    """A cell keeps the kernel's main shell busy (as ``job.wait()`` would) until the block ends; yields its gate,
    which exists once the cell is told to end."""
    gate = folder / "gate"
    page.kc.execute(busy_cell(gate))
    try:
        yield gate
    finally:
        gate.write_text("")


LAUNCH = """
import os, time
from jupyter_hpo import api
from jupyter_hpo.widgets import Dashboard

def objective(p):
    time.sleep(0.3)
    return p["x"]

job = api.launch(objective=objective, space={"x": {"type": "float", "low": 0, "high": 1}}, max_trials=300,
                 max_parallel=2, name="routed")
dashboard = Dashboard(job)
dashboard.start()
print(dashboard.comm.comm_id)
"""


def test_stop_from_a_reloaded_page_reaches_the_dashboard(page, home):
    comm_id = page.run(LAUNCH)
    first = page.new_subshell()
    page.custom(comm_id, {"type": "hello"}, first)
    page.wait_custom(comm_id, "snapshot")
    page.wait_custom(comm_id, "delta")  # the poll thread has published since
    page.close_subshell(first)  # the page is reloaded: JupyterLab deletes its subshell

    second = page.new_subshell()
    page.custom(comm_id, {"type": "hello"}, second)
    page.wait_custom(comm_id, "snapshot")
    page.custom(comm_id, {"type": "stop", "id": 1}, second)
    reply = page.wait_custom(comm_id, "stop-reply")
    assert reply["ok"] is True, reply
    job = api.attach("routed")
    wait_for(lambda: job.status.is_finished(), timeout=60)
    assert job.status.value == "stopped"
    assert page.shell_errors() == []


def test_the_dashboard_answers_a_page_while_a_cell_keeps_the_main_shell_busy(page, home, tmp_path):
    comm_id = page.run(LAUNCH)
    with main_shell_busy(page, tmp_path) as gate:
        subshell = page.new_subshell()
        page.custom(comm_id, {"type": "hello"}, subshell)
        page.wait_custom(comm_id, "snapshot")
        page.custom(comm_id, {"type": "stop", "id": 1}, subshell)
        assert page.wait_custom(comm_id, "stop-reply")["ok"] is True
        job = api.attach("routed")
        wait_for(lambda: job.status.is_finished(), timeout=60)
        assert not gate.exists(), "the cell was still running"
    assert job.status.value == "stopped"


def test_a_builder_row_takes_edits_from_a_reloaded_page(page, home):
    comm_id = page.run("from jupyter_hpo.widgets import SearchSpaceBuilder\n"
                       "builder = SearchSpaceBuilder({'lr': {'type': 'float', 'low': 0.01, 'high': 0.3}})\n"
                       "print(builder.rows[0].name_text.comm.comm_id)")
    first = page.new_subshell()
    page.comm_send(comm_id, {"method": "update", "state": {"value": "eta"}, "buffer_paths": []}, first)
    assert wait_for(lambda: page.run("print(builder.rows[0].name_text.value)") == "eta", timeout=30)
    page.close_subshell(first)

    second = page.new_subshell()
    page.comm_send(comm_id, {"method": "update", "state": {"value": "learning_rate"}, "buffer_paths": []}, second)
    assert wait_for(lambda: page.run("print(builder.rows[0].name_text.value)") == "learning_rate", timeout=30)
    assert page.run("print(sorted(builder.space.to_dict()))") == "['learning_rate']"
    assert page.shell_errors() == []


def test_refit_starts_while_a_cell_keeps_the_main_shell_busy(page, home, tmp_path):
    comm_id = page.run("""
from jupyter_hpo import api, trial
from jupyter_hpo.widgets import Dashboard

def objective(p):
    trial.save_model({"x": p["x"]})
    return p["x"]

job = api.launch(objective=objective, space={"x": {"type": "float", "low": 0, "high": 1}}, max_trials=2,
                 max_parallel=1, name="refitted")
job.wait(timeout=120)
dashboard = Dashboard(job)
print(dashboard.comm.comm_id)
""")
    with main_shell_busy(page, tmp_path) as gate:
        subshell = page.new_subshell()
        page.custom(comm_id, {"type": "refit", "id": "r1"}, subshell)
        assert page.wait_custom(comm_id, "refit-reply")["state"] == "working"
        refit = wait_for(lambda: "refitted-refit" in {j["name"] for j in api.list_jobs()}, timeout=60)
        assert refit and not gate.exists(), "the refit started while the cell still ran"
    wait_for(lambda: api.attach("refitted-refit").status.is_finished(), timeout=120)
    assert api.attach("refitted-refit").status.value == "completed"
