"""The simulated training containers: a model of the log (``model``) or the job's real script (``script``)."""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import subprocess
import sys
import tarfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.sagemaker.sim.base import ApiError
from jupyter_hpo.sagemaker.sim.s3 import parse_s3_uri

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.sim.clock import Clock
    from jupyter_hpo.sagemaker.sim.logs import Stream
    from jupyter_hpo.sagemaker.sim.s3 import S3Store
    from jupyter_hpo.sagemaker.sim.training import TrainingJob

__all__ = ["Executors", "JobFailure", "MetricFn", "ScriptRun", "default_metric", "terminate"]

_KILL_GRACE_S = 2.0  # real seconds between SIGTERM and SIGKILL
_INTERMEDIATE_LINES = 3  # of the model executor
_SIMPLE_NAME = re.compile(r"[A-Za-z_]\w*\Z")

#: ``metric_fn(rng, hyperparameters)``: the job's metric, or None for no metric lines.
MetricFn = Callable[[random.Random, dict[str, str]], float | None]

class JobFailure(Exception):
    """A training job fails before its code runs; the message is the FailureReason."""


def default_metric(rng: random.Random, hyperparameters: dict[str, str]) -> float:
    """A smooth score in about (0.55, 0.95) of the numeric hyperparameters, plus a little noise."""
    xs = []
    for value in hyperparameters.values():
        try:
            x = float(value)
        except ValueError:
            continue
        if math.isfinite(x):
            xs.append(x)
    s = sum(math.sin(math.log1p(abs(x))) for x in xs) / max(1, len(xs))
    return 0.75 + 0.2 * math.tanh(s) + rng.gauss(0.0, 0.005)


@dataclass
class ScriptRun:
    """A training script running as a process of this machine."""

    proc: subprocess.Popen[str]
    command: str
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=10))

class Executors:
    """What runs in a training job (mixed into :class:`SimulatedSageMaker`): the ``model`` executor
    synthesises the log; the ``script`` executor runs the job's entry script in a directory laid out
    as the SageMaker training toolkit does, with the warm pool's cache directory."""

    clock: Clock
    _lock: threading.RLock
    _seed: int
    _training_s: float | Callable[[random.Random, dict[str, str]], float]
    _metric_fn: MetricFn
    _tmp: Path
    _s3: S3Store

    def _run_model(self, t: float, job: TrainingJob, stream: Stream) -> None:
        """Synthesise the job's log: intermediate lines over the training phase, then one line per metric."""
        rng = random.Random(f"{self._seed}:{job.name}")
        hyperparameters = dict(job.hyperparameters)
        duration = self._training_s(rng, hyperparameters) if callable(self._training_s) else self._training_s
        end, value, failure = t + duration, None, None
        try:
            value = self._metric_fn(rng, hyperparameters)
        except Exception as exc:  # the user's metric_fn says the algorithm failed
            failure = f"AlgorithmError: {type(exc).__name__}: {exc}"
        if value is not None:
            for i in range(_INTERMEDIATE_LINES):
                stream.append(t + duration * (i + 1) / (_INTERMEDIATE_LINES + 1),
                                  f"intermediate step={i} value={value * (i + 1) / _INTERMEDIATE_LINES!r}")
            for definition in job.request["AlgorithmSpecification"].get("MetricDefinitions", []):
                if _SIMPLE_NAME.match(definition["Name"]):
                    stream.append(end, f"{definition['Name']}={float(value)!r}")
        if failure:
            stream.append(end, failure)
        self._at(end, job, self._training_done, failure)

    def _run_script(self, t: float, job: TrainingJob, stream: Stream) -> None:
        """Start the job's entry script; reader threads log its output and report its exit."""
        try:
            command, cwd, env = self._prepare_work(job)
        except JobFailure as exc:
            self._finish(t, job, "Failed", failure=str(exc))
            return
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, bufsize=1, errors="replace")
        job.run = run = ScriptRun(proc, " ".join(command[1:]))
        readers = [threading.Thread(target=self._pump, args=(stream, pipe, tail), daemon=True)
                   for pipe, tail in ((proc.stdout, None), (proc.stderr, run.stderr_tail))]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._reap, args=(job, run, readers), daemon=True).start()

    def _pump(self, stream: Stream, pipe: Any, tail: deque[str] | None) -> None:
        """Log each line of ``pipe`` at the time it arrives; keep the last ones in ``tail`` too."""
        with pipe:
            for line in pipe:
                with self._lock:
                    stream.append(self.clock.now(), line.rstrip("\n"))
                    if tail is not None:
                        tail.append(line.rstrip("\n"))

    def _reap(self, job: TrainingJob, run: ScriptRun, readers: list[threading.Thread]) -> None:
        code = run.proc.wait()
        for reader in readers:
            reader.join()
        with self._lock:
            failure = None
            if code != 0:
                head = f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage \""
                foot = f"\"\nCommand \"{run.command}\", exit code: {code}"
                failure = head + "\n".join(run.stderr_tail)[-(1024 - len(head) - len(foot)):] + foot
            self._at(self.clock.now(), job, self._training_done, failure)

    def _prepare_work(self, job: TrainingJob) -> tuple[list[str], Path, dict[str, str]]:
        """Lay out the job's directory as the SageMaker training toolkit does; return command, cwd and env."""
        hps = job.hyperparameters
        if "sagemaker_program" not in hps or "sagemaker_submit_directory" not in hps:
            raise JobFailure("AlgorithmError: the 'script' executor needs the hyperparameters sagemaker_program "
                              "and sagemaker_submit_directory.")
        work = self._tmp / "jobs" / job.name
        (work / "code").mkdir(parents=True)
        (work / "input" / "config").mkdir(parents=True)
        (work / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
        env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        env.update(job.request.get("Environment", {}))
        channels = []
        for channel in job.request.get("InputDataConfig", []):  # fetched by the service, isolated or not
            name, dest = channel["ChannelName"], work / "input" / "data" / channel["ChannelName"]
            dest.mkdir(parents=True)
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
            if uri:
                self._s3.download_prefix(uri, dest)
            channels.append(name)
            env[f"SM_CHANNEL_{name.upper()}"] = str(dest)
        self._extract_code(job, hps["sagemaker_submit_directory"], work)
        for sub in ("model", "output/data"):
            (work / sub).mkdir(parents=True)
        user = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
        env.update(PYTHONUNBUFFERED="1", SM_CHANNELS=json.dumps(channels), SM_HPS=json.dumps(user),
                   SM_INPUT_CONFIG_DIR=str(work / "input" / "config"), SM_MODEL_DIR=str(work / "model"),
                   SM_OUTPUT_DATA_DIR=str(work / "output" / "data"), SM_CURRENT_HOST="algo-1",
                   SM_HOSTS='["algo-1"]', TRAINING_JOB_NAME=job.name)
        if job.cache_dir is not None:
            job.cache_dir.mkdir(parents=True, exist_ok=True)
            env["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"] = str(job.cache_dir)
        args = [arg for name, value in user.items() for arg in (f"--{name}", value)]
        return [sys.executable, hps["sagemaker_program"], *args], work / "code", env

    def _extract_code(self, job: TrainingJob, submit: str, work: Path) -> None:
        """Unpack ``sagemaker_submit_directory`` as the training toolkit does: from S3 (the container
        fetches it, which network isolation forbids) or from a path in the container (an input channel)."""
        try:
            if submit.startswith("s3://"):
                if job.request.get("EnableNetworkIsolation"):
                    raise JobFailure(f"AlgorithmError: cannot fetch {submit}: the training container runs with "
                                     "network isolation and cannot reach S3")
                tarball = self._s3.read(*parse_s3_uri(submit))
            elif submit.startswith("/opt/ml/"):
                tarball = (work / submit[len("/opt/ml/"):]).read_bytes()
            else:
                raise ValueError("not an s3:// URI or a path under /opt/ml/")
            with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
                tar.extractall(work / "code", filter="data")
        except (ApiError, ValueError, OSError, tarfile.TarError) as exc:
            raise JobFailure(f"AlgorithmError: cannot fetch {submit}: {exc}") from None

    def _upload_model(self, job: TrainingJob) -> None:
        """Put the script's model directory into S3 as ``<S3OutputPath>/<job>/output/model.tar.gz``."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted((self._tmp / "jobs" / job.name / "model").iterdir()):
                tar.add(path, arcname=path.name)
        bucket, prefix = parse_s3_uri(job.request["OutputDataConfig"]["S3OutputPath"])
        self._s3.write(bucket, "/".join(filter(None, [prefix.strip("/"), job.name, "output", "model.tar.gz"])),
                       buffer.getvalue())


def terminate(proc: subprocess.Popen[str], wait: bool = False) -> None:
    """SIGTERM ``proc``, then SIGKILL it if it is still alive after a grace period (in the background unless
    ``wait``)."""
    if proc.poll() is not None:
        return
    proc.terminate()

    def reap() -> None:
        try:
            proc.wait(_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    if wait:
        reap()
    else:
        threading.Thread(target=reap, daemon=True).start()
