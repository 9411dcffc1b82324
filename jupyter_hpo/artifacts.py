"""Trial artifacts: where they are, which are kept, and loading a job's model back.

A trial saves what it wants to keep with :func:`jupyter_hpo.trial.save_model` (cloudpickle, into
``model.pkl``) or :func:`jupyter_hpo.trial.log_artifact` (a copy of a file or folder), into its artifact folder:

* local backend: ``<job folder>/artifacts/<trial number>/``. As trials finish, the runner keeps the folders
  of the best ``artifacts.keep_best`` complete trials (default 3; 0 keeps none) and removes the others
  (:class:`ArtifactKeeper`); the current best trial's folder is never removed while ``keep_best >= 1``;
* SageMaker backends: the model folder the training job uploads as ``model.tar.gz`` (its ``ModelArtifacts``).

Each trial's record carries the URI as ``artifact`` (a local path or an S3 URI) when its artifacts were
kept as it finished; the job's ``artifacts_kept`` attribute maps the trial numbers kept now to their URI.

Example:
    >>> job = jupyter_hpo.attach("credit-xgb")  # doctest: +SKIP
    >>> model_path(job)  # doctest: +SKIP
    '/home/me/.jupyter_hpo/jobs/credit-xgb/artifacts/17'
    >>> model = load_model(job)  # the refit's model if the job was refit, else the best trial's  # doctest: +SKIP
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import ArtifactNotFoundError, BackendError
from jupyter_hpo.records import ARTIFACTS_KEPT, REFIT, no_best
from jupyter_hpo.trial import MODEL_FILE

if TYPE_CHECKING:
    from jupyter_hpo.api import Job
    from jupyter_hpo.refit import StaleRefit

__all__ = ["ArtifactKeeper", "artifacts_root", "load_model", "model_path"]


def artifacts_root(job_dir: Path) -> Path:
    """The folder under which the local backend keeps each trial's artifact folder."""
    return Path(job_dir) / "artifacts"


def trial_folder(job_dir: Path, number: int) -> Path:
    """Trial ``number``'s artifact folder on the local backend (built from the number only)."""
    return artifacts_root(job_dir) / str(_check_number(number))


def _check_number(number: Any) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"`trial_number` must be an integer >= 0, but got {number!r}.")
    return number


class ArtifactKeeper:
    """The runner's bookkeeping of kept artifacts: which trials keep theirs, and what to remove.

    Args:
        job_dir: the job's folder (local backend); None for a backend whose artifacts live in S3, which
            are recorded and never removed.
        keep: how many complete trials keep their artifacts (``artifacts.keep_best``).
        direction: ``maximize`` or ``minimize``; with several objectives, one per objective: trials then rank by
            the first objective, equals by the next, and so on, so the job's best (the Pareto front's best first
            objective, :class:`~jupyter_hpo.records.JobSummary`) is always the first kept.

    Example:
        >>> keeper = ArtifactKeeper(None, 2, "maximize")
        >>> keeper.finished(0, "complete", 0.7, "s3://b/j-0/output/model.tar.gz")
        ('s3://b/j-0/output/model.tar.gz', [])
    """

    def __init__(self, job_dir: Path | None, keep: int, direction: str | Sequence[str]) -> None:
        self.job_dir = job_dir
        self.keep = keep
        directions = [direction] if isinstance(direction, str) else list(direction)
        self.signs = tuple(-1.0 if d == "maximize" else 1.0 for d in directions)
        self.kept: dict[int, tuple[tuple[float, ...], str]] = {}  # number -> (values, uri)
        #: trials below this number are another job's (a copied job's source): their folders are never removed
        self.foreign_below = 0

    def _values(self, value: float | Sequence[float] | None) -> tuple[float, ...] | None:
        """A trial's objective value(s) as a tuple of finite floats, one per objective; None if it has none."""
        if value is None:
            return None
        values = (value,) if isinstance(value, (int, float)) else tuple(value)
        if len(values) != len(self.signs) or not all(math.isfinite(v) for v in values):
            return None
        return tuple(float(v) for v in values)

    def restore(self, kept: Mapping[str, Any] | None, values: Mapping[int, float | Sequence[float]],
                foreign_below: int = 0) -> None:
        """A resumed job: the kept map of the previous runner, with the trials' values; trials below
        ``foreign_below`` were copied from another job, whose folders they name (never removed)."""
        self.foreign_below = foreign_below
        for key, uri in (kept or {}).items():
            if str(key).isdigit() and int(key) in values and isinstance(uri, str):
                own = self._values(values[int(key)])
                if own is not None:
                    self.kept[int(key)] = (own, uri)

    def _rank(self, item: tuple[int, tuple[tuple[float, ...], str]]) -> tuple[float, ...]:
        number, (values, _) = item
        return (*(sign * v for sign, v in zip(self.signs, values)), number)  # a tie: the earlier trial stays ahead

    def finished(self, number: int, state: str, value: float | Sequence[float] | None,
                 backend_uri: str | None = None) -> tuple[str | None, list[Path]]:
        """Trial ``number`` ended with ``value`` (one per objective with several): the artifact URI to record
        with it (None: none kept), and the local folders to remove now (its own when it is not kept, and those
        it pushed out of the best ``keep``)."""
        values = self._values(value) if state == "complete" else None
        if self.job_dir is None:
            if backend_uri and values is not None:
                self.kept[number] = (values, backend_uri)
            return backend_uri, []
        folder = trial_folder(self.job_dir, number)
        if not folder.is_dir():
            return None, []
        if values is None or self.keep == 0:
            return None, [folder]
        self.kept[number] = (values, str(folder))
        ranked = sorted(self.kept.items(), key=self._rank)
        dropped = ranked[self.keep:]
        for n, _ in dropped:
            del self.kept[n]
        return (str(folder) if number in self.kept else None), [
            Path(uri) for n, (_, uri) in dropped if n >= self.foreign_below]

    def kept_map(self) -> dict[str, str]:
        """``{trial number: URI}`` of the artifacts kept now (the job's ``artifacts_kept`` attribute)."""
        return {str(n): uri for n, (_, uri) in sorted(self.kept.items())}


def remove_folder(path: Path) -> None:
    """Remove a trial's artifact folder (what the runner calls off its trial loop)."""
    shutil.rmtree(path, ignore_errors=True)


# -- finding and loading a job's model --------------------------------------------------------------
@dataclass(frozen=True)
class RefitModel:
    """A job's latest refit (``job.refit()``): the refit job and its trial's record (None: it never ran).
    ``problem`` is None when it holds the job's model, else why not, without the way on, which differs between
    its callers (:func:`model_path`, ``register --mlflow``)."""

    parent: str
    job: Job
    record: Mapping[str, Any] | None
    stale: StaleRefit | None

    @property
    def problem(self) -> str | None:
        if self.stale is not None:
            return str(self.stale)
        rec = self.record
        if rec is not None and rec["state"] == "complete" and rec["artifact"]:
            return None
        status = self.job.status
        if not status.is_finished():
            why = f"it is still {status.value}"
        elif rec is None:
            why = f"its trial never ran ({status.value}: {self.job.attrs.get('reason', '')})"
        elif rec["state"] != "complete":
            why = f"its trial is {rec['state']}" + (f" ({rec['error']})" if rec.get("error") else "")
        else:
            why = "its trial saved nothing"
        return f"job {self.parent!r} was refit as {self.job.name!r}, which has no model: {why}"


def refit_model(job: Job) -> RefitModel | None:
    """``job``'s latest refit, or None when it was not refit (or that refit job was deleted since)."""
    from jupyter_hpo.api import Job as JobClass
    from jupyter_hpo.exceptions import JobNotFoundError
    from jupyter_hpo.refit import outdated

    name = job.attrs.get(REFIT)
    if not isinstance(name, str):
        return None
    try:
        refit = JobClass(name, job.store)
    except JobNotFoundError:
        return None
    return RefitModel(job.name, refit, _record(refit, 0), outdated(job))


def _record(job: Job, number: int) -> dict[str, Any] | None:
    return next((r for r in job.trial_records(after=number - 1) if r["number"] == number), None)


def model_path(job: Job, trial_number: int | None = None) -> str:
    """Where a trial's artifacts are: a local folder or the S3 URI of a training job's ``model.tar.gz``.

    Args:
        job: the job.
        trial_number: the trial; None: the refit's model when the job was refit (``job.refit()``), else the
            best complete trial's.

    Raises:
        ArtifactNotFoundError: the job has no complete (or no feasible) trial, or the trial kept no artifact (it saved
            none, did not complete, or was not among the best ``artifacts.keep_best``), or the job's refit has
            no model (still running, failed, saved nothing: never silently the best trial's instead); the
            message says which.
    """
    if trial_number is None:
        refit = refit_model(job)
        if refit is not None:
            if refit.problem is not None:
                raise ArtifactNotFoundError(f"{refit.problem}; or pass trial_number for a trial's own model (the best: "
                                            "job.best['number']).")
            return _existing(refit.job, refit.record, 0)
        best = job.best
        if best is None:
            raise ArtifactNotFoundError(f"job {job.name!r} has {no_best(job.trial_records())}, so it has no best "
                                        "model.")
        trial_number = best["number"]
    number = _check_number(trial_number)
    rec = _record(job, number)
    if rec is None:
        raise ArtifactNotFoundError(f"job {job.name!r} has no trial {number}.")
    if not rec["artifact"]:
        keep = (job.spec.get("artifacts") or {}).get("keep_best")
        if rec["state"] != "complete":
            why = f"it is {rec['state']}"
        elif keep == 0:
            why = "the job keeps no artifacts (artifacts.keep_best is 0)"
        else:
            why = ("it saved nothing (call trial.save_model(model) or trial.log_artifact(path) in the trial), or "
                   "it was not among the best artifacts.keep_best trials when it finished")
        raise ArtifactNotFoundError(f"trial {number} of job {job.name!r} has no artifact: {why}.")
    return _existing(job, rec, number)


def _existing(job: Job, rec: Mapping[str, Any], number: int) -> str:
    uri = str(rec["artifact"])
    if uri.startswith("s3://"):
        return uri
    if not Path(uri).is_dir():
        kept = job.attrs.get(ARTIFACTS_KEPT) or {}
        if str(number) in kept and kept[str(number)] == uri:  # kept, but on the machine its runner ran on
            raise ArtifactNotFoundError(f"trial {number} of job {job.name!r} keeps its artifact in {uri} on the "
                                        f"machine its runner ran on ({(job.attrs.get('runner') or {}).get('host')}), "
                                        "not on this one.")
        keep = (job.spec.get("artifacts") or {}).get("keep_best")
        raise ArtifactNotFoundError(
            f"trial {number} of job {job.name!r} has no artifact any more: {uri} was removed (artifacts.keep_best="
            f"{keep if keep is not None else 'default'} keeps the best trials' only; kept now: "
            f"{', '.join(sorted(kept, key=int)) or 'none'}).")
    return uri


def load_model(job: Job, trial_number: int | None = None) -> Any:
    """Load the model a trial saved with ``trial.save_model`` (``model.pkl``, cloudpickle).

    Args:
        job: the job.
        trial_number: the trial; None: the refit's model if there is one, else the best trial's
            (see :func:`model_path`).

    Returns:
        The unpickled model. An S3 artifact (``model.tar.gz``) is downloaded with boto3 and extracted into a
        temporary folder first.

    Raises:
        ArtifactNotFoundError: no such artifact (see :func:`model_path`), or it holds no ``model.pkl``.
        BackendError: boto3 is missing (``pip install 'jupyter-hpo[sagemaker]'``) or S3 cannot be read.
    """
    uri = model_path(job, trial_number)
    if uri.startswith("s3://"):
        return _load_s3(uri, (job.spec.get("backend") or {}).get("options") or {}, job.attrs.get("cwd"))
    return _load_file(Path(uri), uri)


def _simulated_object(uri: str, bucket: str, key: str, simulate: Any, cwd: str | None = None) -> bytes:
    """The bytes of an object of the simulated S3 a job's ``simulate`` settings name (``s3_root``; a relative one
    from ``cwd``, the folder the job was launched from, where its runner wrote it). Its models were downloaded with
    boto3 from AWS's S3, with the user's credentials, and the download failed."""
    from jupyter_hpo.sagemaker.clients import simulated_object

    root = simulate.get("s3_root") if isinstance(simulate, Mapping) else None
    if not root:
        raise ArtifactNotFoundError(
            f"{uri} was on the simulated S3 of a dry run without `simulate.s3_root`: a temporary folder, gone with "
            "its runner (AWS was not asked). Give `simulate: {s3_root: DIR}` to keep a dry run's models.")
    if cwd and not Path(str(root)).expanduser().is_absolute():
        root = str(Path(cwd) / root)
    try:
        return simulated_object(root, bucket, key)
    except KeyError as e:
        raise ArtifactNotFoundError(f"{uri} is not in the simulated S3 at {root} ({e.args[0]}).") from None


def _load_file(folder: Path, shown: str) -> Any:
    import cloudpickle

    path = folder / MODEL_FILE
    if not path.is_file():
        inside = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise ArtifactNotFoundError(f"{shown} holds no {MODEL_FILE} (save one with trial.save_model(model)); it "
                                    f"holds: {', '.join(inside) or 'nothing'}.")
    with path.open("rb") as f:
        return cloudpickle.load(f)


def _extract(tar: Any, folder: Path) -> None:
    """Extract an archive without absolute paths, ``..``, links out of ``folder`` or devices."""
    import tarfile

    if hasattr(tarfile, "data_filter"):  # Python 3.11.4+, 3.10.12+
        tar.extractall(folder, filter="data")
        return
    for member in tar.getmembers():
        target = (folder / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(folder.resolve()):
            raise tarfile.TarError(f"refusing member {member.name!r}")
    tar.extractall(folder)


def _load_s3(uri: str, options: Mapping[str, Any], cwd: str | None = None) -> Any:
    """Download ``s3://bucket/key`` (a ``model.tar.gz``), extract it and load its ``model.pkl``."""
    import tarfile
    import tempfile

    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise BackendError("loading a model from S3 needs boto3: pip install 'jupyter-hpo[sagemaker]'.") from None
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ArtifactNotFoundError(f"{uri!r} is not an S3 object URI (s3://bucket/key).")
    with tempfile.TemporaryDirectory(prefix="jupyter-hpo-model-") as tmp:
        archive = Path(tmp) / "model.tar.gz"
        if options.get("simulate") is not None:  # a dry run's model is on the simulated S3, never asked of AWS
            archive.write_bytes(_simulated_object(uri, bucket, key, options["simulate"], cwd))
        else:
            session = boto3.Session(profile_name=options.get("profile"), region_name=options.get("region"))
            try:
                session.client("s3").download_file(bucket, key, str(archive))
            except (BotoCoreError, ClientError) as e:
                raise BackendError(f"cannot download {uri}: {e}") from None
        folder = Path(tmp) / "model"
        folder.mkdir()
        try:
            with tarfile.open(archive) as tar:
                _extract(tar, folder)
        except (tarfile.TarError, OSError) as e:
            raise ArtifactNotFoundError(f"{uri} is not a readable model.tar.gz: {e}") from None
        return _load_file(folder, uri)
