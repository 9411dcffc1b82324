"""What a trial's own code calls: the same in a local warm worker and in a SageMaker container.

Example (a script trial; the same lines work in a function objective)::

    from jupyter_hpo import trial

    data = trial.cached("credit", load_data)        # loaded once per warm worker
    cv = trial.folds(X, y, k=5, seed=0)
    for train_idx, valid_idx in cv:
        model.fit(X[train_idx], y[train_idx])
        cv.report(roc_auc_score(y[valid_idx], model.predict_proba(X[valid_idx])[:, 1]))
    print(f"auc={cv.mean:.5f}")

Outside any trial (calling an objective by hand in a notebook) ``report`` and ``folds`` work and
nothing is ever pruned, so the same code can be debugged directly.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jupyter_hpo.exceptions import HpoError, TrialPruned

__all__ = ["params", "report", "should_prune", "folds", "cached", "Folds", "TrialPruned", "in_trial",
           "artifact_dir", "save_model", "log_artifact", "is_refit", "REFIT_ENV", "ARTIFACT_DIR_ENV"]

T = TypeVar("T")
_SPACE_FILE = "jupyter_hpo_space.json"  # written into sourcedir.tar.gz by the sagemaker backend
_STATIC_FILE = "jupyter_hpo_static.json"  # likewise: the static hyperparameters as the spec had them
#: set to ``1`` while a refit trial runs (``job.refit()``); what a script run outside a worker reads
REFIT_ENV = "JUPYTER_HPO_REFIT"
#: the trial's artifact folder, set while a trial runs in a local worker (a script may read it directly)
ARTIFACT_DIR_ENV = "JUPYTER_HPO_ARTIFACT_DIR"
#: the file :func:`save_model` writes in the artifact folder, which ``job.best_model()`` loads
MODEL_FILE = "model.pkl"


def _sagemaker_hparams() -> Path:
    """``hyperparameters.json`` of a SageMaker container (``SM_INPUT_CONFIG_DIR`` as the toolkit sets it)."""
    return Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"


def _warm_cache_dir() -> Path:
    """The warm pool's persistent cache directory (kept between jobs on the same instance)."""
    return Path(os.environ.get("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY", "/opt/ml/sagemaker/warmpoolcache"))



@dataclass
class _Context:
    """The running trial, set by the worker before each trial and cleared after it."""

    params: dict[str, Any]
    report_fn: Callable[[float, int], bool] | None = None
    seed: int | None = None
    metric: str = "objective"
    pruned: bool = False
    next_step: int = 0
    fold_scores: list[float] = field(default_factory=list)
    artifact_dir: str | None = None
    refit: bool = False
    #: the worker process running the trial: only it may talk to the runner (a forked child shares its pipe)
    pid: int = field(default_factory=os.getpid)


_context: _Context | None = None
#: ``ctx``: the trial that submitted the ThreadPoolExecutor work item this thread runs (see :func:`_here`)
_local = threading.local()
#: the attribute of a ``threading.Thread`` started while a trial ran: that trial's context
_OWNER = "_jupyter_hpo_trial"
_cache: dict[str, Any] = {}
_container_step = 0


def in_trial() -> bool:
    """True inside a trial run by jupyter-hpo (a local worker or a SageMaker container)."""
    return _here() is not None or _sagemaker_hparams().is_file()


def params() -> dict[str, Any]:
    """The running trial's hyperparameters (tuned and static), typed.

    Raises:
        HpoError: called outside a trial.
    """
    ctx = _here()
    if ctx is not None:
        return dict(ctx.params)
    if _sagemaker_hparams().is_file():
        return _sagemaker_params()
    raise HpoError("jupyter_hpo.trial.params() is only available inside a trial run by jupyter-hpo.")


def _sagemaker_params() -> dict[str, Any]:
    """The training job's hyperparameters, typed: tuned ones by the shipped space, static ones as the spec had them
    (the shipped :data:`_STATIC_FILE`, when SageMaker passed the very string sent), others by what their text reads."""
    raw = _sagemaker_raw()
    space = _space_here()
    names = set(space) if space is not None else set()
    static = _shipped(_STATIC_FILE)
    static = static if isinstance(static, dict) else {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k in names:
            out[k] = space[k].parse(v)
        elif isinstance(static.get(k), dict) and static[k].get("sent") == v:
            out[k] = static[k].get("value")
        else:
            out[k] = _guess_type(v)
    return out


def _sagemaker_raw() -> dict[str, Any]:
    """The training job's hyperparameters as SageMaker wrote them, less the SDK's own (``sagemaker_*``)."""
    return {k: v for k, v in json.loads(_sagemaker_hparams().read_text()).items() if not k.startswith("sagemaker_")}


def _shipped(name: str) -> Any:
    """A JSON file shipped with the code (in the working directory or beside the script), read, or None."""
    for folder in (Path.cwd(), Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] else None):
        if folder is not None and (folder / name).is_file():
            return json.loads((folder / name).read_text())
    return None


def _space_here() -> Any:
    """The job's search space, shipped with the code (:data:`_SPACE_FILE`), or None."""
    data = _shipped(_SPACE_FILE)
    if data is None:
        return None
    from jupyter_hpo.space import SearchSpace

    return SearchSpace.from_dict(data)


def _static_identity() -> str:
    """This training job's static hyperparameters (all but the tuned ones), as text; "" outside a container. Part
    of :func:`cached`'s disk key: a value may come from one (a segment's data path), and a warm pool can pass to
    a job with other ones. Without the search space every hyperparameter counts (correct, never shared)."""
    if not _sagemaker_hparams().is_file():
        return ""
    space = _space_here()
    tuned = set(space) if space is not None else set()
    return json.dumps({k: v for k, v in _sagemaker_raw().items() if k not in tuned}, sort_keys=True)


def _guess_type(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


#: Set in a SageMaker AMT training container (to the objective's metric name) when the tuning job stops trials
#: early (``early_stopping: median`` or ``strategy: hyperband``): ``report`` then also prints the objective metric
#: at each step, the series AMT compares; the script's own final line stays the trial's value.
STEP_OBJECTIVE_ENV = "JUPYTER_HPO_STEP_OBJECTIVE"


def report(value: float, step: int | None = None) -> None:
    """Report an intermediate value (an epoch's or a fold's score) at ``step`` (default: next).

    A plain ``report`` never raises (but in a process the trial started, which must not talk to the runner):
    check :func:`should_prune` after it (``Folds.report``
    raises :class:`TrialPruned` for you). In a SageMaker training container it prints the value for the
    backend to read (and, under AMT's early stopping or Hyperband, the objective metric too:
    :data:`STEP_OBJECTIVE_ENV`).
    """
    _report(value, step)


def _report(value: float, step: int | None, folds: int | None = None) -> None:
    """:func:`report`; ``folds``: the value is the score of fold ``step + 1`` of that many (:meth:`Folds.report`),
    which a SageMaker container's line says, so that the trial's fold scores are recorded as on the local pool."""
    value = float(value)
    if step is not None:
        step = _check_step(step)
    ctx = _here()  # a thread a trial left running reports to its own trial (ended: dropped), not the next one
    if ctx is None:
        global _container_step
        if _sagemaker_hparams().is_file():  # the job's metric regexes and the backend's log tail pick these up
            step = _container_step if step is None else step
            _container_step = step + 1
            print(f"intermediate step={step} value={value!r}" + (f" fold={step + 1}/{folds}" if folds else ""),
                  flush=True)
            metric = os.environ.get(STEP_OBJECTIVE_ENV)
            if metric:  # AMT's early stopping and Hyperband read the objective metric at each step
                print(f"{metric}={value!r}", flush=True)
        return
    if ctx.pid != os.getpid():  # a process the trial started (a fork Pool's): its report would write into the
        raise HpoError(  # worker's pipe to the runner beside the worker itself, and garble both
            "trial.report was called in a process the trial started (pid "
            f"{os.getpid()}; the trial runs in {ctx.pid}): return the value from that process and report it from "
            "the trial's own process.")
    step = ctx.next_step if step is None else step
    ctx.next_step = step + 1
    if ctx.report_fn is not None:
        decision = bool(ctx.report_fn(value, step))  # a value that is not finite: the runner says it is dropped
        if math.isfinite(value):
            ctx.pruned = decision


#: the largest step a report may have: every store keeps steps as 32-bit integers (PostgreSQL included)
MAX_STEP = 2**31 - 1


def _check_step(step: Any) -> int:
    if isinstance(step, bool):
        raise ValueError(f"`step` must be an integer from 0 to {MAX_STEP}, but got {step!r}.")
    if not isinstance(step, int):
        try:
            as_int = int(step)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"`step` must be an integer from 0 to {MAX_STEP}, but got {step!r}.") from None
        if as_int != step:
            raise ValueError(f"`step` must be an integer from 0 to {MAX_STEP}, but got {step!r}.")
        step = as_int
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"`step` must be an integer from 0 to {MAX_STEP}, but got {step}.")
    return int(step)


def should_prune() -> bool:
    """True when the pruner decided, at the last :func:`report`, that this trial should stop."""
    ctx = _here()
    return ctx is not None and ctx.pruned


class Folds:
    """K-fold splits that report each fold's score, so a k-fold aware pruner can stop a bad trial.

    Iterate for ``(train_index, valid_index)`` pairs; call :meth:`report` with each fold's score.
    The splits depend only on ``seed``, so every trial of a job sees the same folds (which is what
    the Wilcoxon pruner compares).
    """

    def __init__(self, X: Any, y: Any = None, *, k: int = 5, stratified: bool = True, seed: int | None = 0) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"`k` must be an integer >= 2, but got {k!r}.")
        from sklearn.model_selection import KFold, StratifiedKFold

        if stratified and y is not None:
            splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
        self.k = k
        self._splits = list(splitter.split(X, y))
        self.scores: list[float] = []

    def __len__(self) -> int:
        return self.k

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return iter(self._splits)

    def report(self, score: float) -> None:
        """Record the score of the next fold; raise :class:`TrialPruned` if the pruner says stop."""
        self.scores.append(float(score))
        ctx = _here()
        if ctx is not None:
            ctx.fold_scores = list(self.scores)
        _report(score, len(self.scores) - 1, self.k)
        if should_prune():
            raise TrialPruned(f"pruned after fold {len(self.scores)} of {self.k}")

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else math.nan

    @property
    def std(self) -> float:
        if len(self.scores) < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((s - m) ** 2 for s in self.scores) / (len(self.scores) - 1))


def folds(X: Any, y: Any = None, *, k: int = 5, stratified: bool = True, seed: int | None = 0) -> Folds:
    """K-fold cross-validation splits that report each fold; see :class:`Folds`."""
    return Folds(X, y, k=k, stratified=stratified, seed=seed)


def cached(key: str, loader: Callable[[], T]) -> T:
    """Return ``loader()``, computed once per worker process and kept for its later trials.

    In a SageMaker warm pool the value is also pickled into the pool's persistent cache
    directory, so a reused instance skips the load. A pool can pass to another job, so on disk the
    value is keyed by ``key``, the identity of the job's input channels (each file's path, size and
    a hash of its content: whole files up to 64 MiB, the first and last MiB of larger ones) and the job's
    static hyperparameters: another job's or an older data set's value is never served. A local worker
    handed to another job keeps its values only when that job's static hyperparameters are the same.
    """
    if key in _cache:
        return _cache[key]
    value: Any = None
    import hashlib

    cache_dir = _warm_cache_dir()
    # a pool moves between jobs of the same role/instance/network: the disk key includes the input data's identity
    ident = f"{key}\0{_input_identity()}\0{_static_identity()}" if cache_dir.is_dir() else key
    disk = cache_dir / f"jupyter_hpo-{hashlib.sha1(ident.encode()).hexdigest()[:16]}.pkl"
    if cache_dir.is_dir() and disk.is_file():
        import pickle

        with disk.open("rb") as f:
            value = pickle.load(f)
    else:
        _local.serving = getattr(_local, "serving", 0) + 1  # threads it starts serve later trials: bound to none
        try:
            value = loader()
        finally:
            _local.serving -= 1
        if cache_dir.is_dir():
            import pickle

            tmp = disk.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                pickle.dump(value, f)
            tmp.replace(disk)
    _cache[key] = value
    return value


_IDENTITY: list[str] = []  # computed once per process
_WHOLE_FILE = 64 * 2**20
_EDGE = 2**20


def _input_identity() -> str:
    """A digest of the input channels (``SM_CHANNEL_*`` folders): file paths, sizes and content hashes."""
    if _IDENTITY:
        return _IDENTITY[0]
    import hashlib

    digest = hashlib.sha1()
    for name in sorted(k for k in os.environ if k.startswith("SM_CHANNEL_")):
        root = Path(os.environ[name])
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for path in files:
            size = path.stat().st_size
            digest.update(f"{name}/{path.relative_to(root).as_posix()}\0{size}\0".encode())
            with path.open("rb") as f:
                if size <= _WHOLE_FILE:
                    for block in iter(lambda: f.read(_EDGE), b""):
                        digest.update(block)
                else:
                    digest.update(f.read(_EDGE))
                    f.seek(size - _EDGE)
                    digest.update(f.read(_EDGE))
    _IDENTITY.append(digest.hexdigest())
    return _IDENTITY[0]


def is_refit() -> bool:
    """True while the trial is a refit (``job.refit()``): the job's best parameters run once more, and the
    trial's code decides what that means (train on all the data, say) and saves its model.

    Also ``trial.refit``. A script run outside a worker (a SageMaker container) reads ``$JUPYTER_HPO_REFIT``
    (``1`` in a refit); a local worker sets that variable too while a refit trial runs.
    """
    ctx = _here()
    if ctx is not None:
        return ctx.refit
    return os.environ.get(REFIT_ENV) == "1"


def __getattr__(name: str) -> Any:  # ``trial.refit``: read at each access (PEP 562)
    if name == "refit":
        return is_refit()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def artifact_dir() -> Path:
    """The running trial's artifact folder, created on demand.

    In a local worker: ``<job folder>/artifacts/<trial number>/`` (kept for the job's best
    ``artifacts.keep_best`` trials, removed for the others). In a SageMaker container: the model folder
    that SageMaker uploads as the training job's ``model.tar.gz`` (``$SM_MODEL_DIR``, else ``/opt/ml/model``).

    Raises:
        HpoError: called outside a trial (and ``$JUPYTER_HPO_ARTIFACT_DIR`` is not set).
    """
    ctx = _here()
    if ctx is not None and ctx.artifact_dir:
        path = Path(ctx.artifact_dir)
    elif os.environ.get(ARTIFACT_DIR_ENV):
        path = Path(os.environ[ARTIFACT_DIR_ENV])
    elif _sagemaker_hparams().is_file():
        path = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    else:
        raise HpoError("jupyter_hpo.trial.artifact_dir() is only available inside a trial run by jupyter-hpo "
                       f"(or with ${ARTIFACT_DIR_ENV} set); check trial.in_trial() first.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_model(obj: Any) -> Path:
    """Save ``obj`` (any model: XGBoost, scikit-learn, a list of fold models...) into the trial's artifact
    folder as ``model.pkl``, pickled with cloudpickle (so lambdas and notebook classes travel too); return
    its path. ``job.best_model()`` loads it back with cloudpickle, which needs the same libraries installed.

    Raises:
        HpoError: called outside a trial (see :func:`artifact_dir`).
    """
    import cloudpickle

    path = artifact_dir() / MODEL_FILE
    partial = path.with_name(f".{MODEL_FILE}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        cloudpickle.dump(obj, f)
    partial.replace(path)
    return path


def log_artifact(path: str | os.PathLike[str]) -> Path:
    """Copy a file or a folder (with its content) into the trial's artifact folder, under its own name;
    return where it went.

    Raises:
        HpoError: called outside a trial (see :func:`artifact_dir`).
        FileNotFoundError: ``path`` does not exist.
    """
    import shutil

    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"trial.log_artifact: {str(source)!r} does not exist.")
    target = artifact_dir() / source.name
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)
    return target


def _here() -> _Context | None:
    """The trial the calling code belongs to: the running trial, or, in a thread a trial started (or a
    ThreadPoolExecutor work item a trial submitted), that trial, which may have ended. A thread that one trial
    left running reported into the next trial on its worker: that trial took the values as its own and its own
    reports of those steps were dropped as repeats. Now its reports go to its ended trial, whose worker drops them.
    Serving threads belong to the running trial, as before: those started outside any trial or inside a
    ``trial.cached`` loader (a pool or an event loop made once serves the later trials), and the threads of
    thread pools (their task loops, a ``multiprocessing`` pool's handlers and ``ProcessPoolExecutor``'s
    manager). What such a thread runs for a trial is that trial's: a task, a future's done-callback, an
    ``apply_async``/``map_async`` callback carry the trial that submitted or added them."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = getattr(threading.current_thread(), _OWNER, None)
    return _context if ctx is None else ctx


def _bind_threads() -> None:
    """In a worker, once: a thread started during a trial, and a ThreadPoolExecutor work item submitted during
    one, carry that trial's context (:func:`_here`)."""
    if getattr(threading.Thread.start, "_jupyter_hpo", False):
        return
    import concurrent.futures.process as futures_process
    import concurrent.futures.thread as futures_thread
    import multiprocessing.pool

    pool = multiprocessing.pool.Pool
    serving = (futures_thread._worker, multiprocessing.pool.worker,  # task loops: their work items say whose
               pool._handle_workers, pool._handle_tasks, pool._handle_results)
    managers = tuple(c for c in (getattr(futures_process, "_ExecutorManagerThread", None),) if c is not None)
    start, submit = threading.Thread.start, futures_thread.ThreadPoolExecutor.submit

    def bound_start(self: threading.Thread) -> None:
        ctx = _here()
        if (ctx is not None and not getattr(_local, "serving", 0) and getattr(self, "_target", None) not in serving
                and not isinstance(self, managers)):
            setattr(self, _OWNER, ctx)
        start(self)

    def bound_submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        ctx = _here()
        return submit(self, fn if ctx is None else _bound(ctx, fn), *args, **kwargs)

    def bound_done_callback(self: Any, fn: Callable[..., Any]) -> Any:  # a future's callback: its adder's trial
        ctx = _here()
        return add_done_callback(self, fn if ctx is None else _bound(ctx, fn))

    def bound_apply_result(self: Any, pool_: Any, callback: Any, error_callback: Any, *args: Any) -> None:
        ctx = _here()  # a multiprocessing pool's apply_async/map_async callbacks: the caller's trial
        if ctx is not None:
            callback = callback if callback is None else _bound(ctx, callback)
            error_callback = error_callback if error_callback is None else _bound(ctx, error_callback)
        apply_result_init(self, pool_, callback, error_callback, *args)

    import concurrent.futures

    add_done_callback = concurrent.futures.Future.add_done_callback
    apply_result_init = multiprocessing.pool.ApplyResult.__init__
    bound_start._jupyter_hpo = True  # type: ignore[attr-defined]
    threading.Thread.start = bound_start  # type: ignore[method-assign]
    futures_thread.ThreadPoolExecutor.submit = bound_submit  # type: ignore[method-assign]
    concurrent.futures.Future.add_done_callback = bound_done_callback  # type: ignore[method-assign]
    multiprocessing.pool.ApplyResult.__init__ = bound_apply_result  # type: ignore[method-assign]


def _bound(ctx: _Context, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, run as code of the trial ``ctx`` wherever it runs (a pool's thread, a future's callback)."""

    def run(*a: Any, **k: Any) -> Any:
        before, _local.ctx = getattr(_local, "ctx", None), ctx
        try:
            return fn(*a, **k)
        finally:
            _local.ctx = before

    return run


def _begin(ctx: _Context) -> None:
    """Called by the worker before a trial (the reset): fresh context, reseeded RNGs."""
    global _context
    _bind_threads()
    _context = ctx
    if ctx.seed is not None:
        import random

        random.seed(ctx.seed)
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed(ctx.seed % 2**32)


def _end() -> _Context | None:
    global _context
    ctx, _context = _context, None
    return ctx
