"""The error hierarchy of jupyter-hpo.

The core raises these; each front door (CLI, magics, server, widgets) translates them once.
Every subclass also derives from the builtin it resembles, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "HpoError",
    "SearchSpaceError",
    "SpecError",
    "JobNotFoundError",
    "JobStateError",
    "JobTimeoutError",
    "StoreError",
    "StoreReadOnlyError",
    "BackendError",
    "ArtifactNotFoundError",
    "TrialPruned",
]


class HpoError(Exception):
    """Base class of every error jupyter-hpo raises on purpose."""


class SearchSpaceError(HpoError, ValueError):
    """Raised when a parameter or a search space breaks a rule (bad range, duplicate name...)."""


class SpecError(HpoError, ValueError):
    """Raised when a tuning-job spec is invalid; the message names the field and the bad value."""


class JobNotFoundError(HpoError, KeyError):
    """Raised when no job of the given name exists in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "job not found"


class JobStateError(HpoError, RuntimeError):
    """Raised when an action does not fit the job's state (e.g. resuming a running job)."""


class JobTimeoutError(HpoError, TimeoutError):
    """Raised when waiting for a job (``Job.wait``, ``Job.stop``) takes longer than the time-out given."""


class StoreError(HpoError, OSError):
    """Raised when the store cannot be opened, read or written (read-only directory, full disk...)."""


class StoreReadOnlyError(StoreError):
    """Raised when a server database (PostgreSQL) refuses a write because this user may only read the store
    (granted SELECT only): launching, stopping or resuming a job is refused, listing and showing still work."""


class BackendError(HpoError, RuntimeError):
    """Raised when a backend cannot be created or cannot run trials (unknown name, missing extra...)."""


class ArtifactNotFoundError(HpoError, FileNotFoundError):
    """Raised when a job's model or a trial's artifact is asked for and there is none: no complete trial, a trial
    that saved nothing, or one whose folder was removed (``artifacts.keep_best``); the message says which."""


class TrialPruned(HpoError):
    """Raised inside a trial to stop it early; the trial is recorded as pruned, not failed.

    ``jupyter_hpo.trial.report`` and ``folds`` raise it when the job's pruner says so.
    """
