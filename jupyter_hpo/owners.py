"""Who launched a job, and who stopped or resumed it: the ``owner``, ``stopped_by`` and ``resumed_by`` job attributes.

An identity is ``{"user", "host", "jupyter", "studio"}``: the OS user and host name; the JupyterHub user
(``$JUPYTERHUB_USER``, which a Hub sets for the user's server and its kernels) when there is one; the
SageMaker Studio user profile (from Studio's ``resource-metadata.json``) when there is one. The name a job
is shown under, and compared by for ``--mine`` and ``--force``, is the Studio profile, else the Hub user,
else the OS user: in Studio every OS user is ``sagemaker-user``.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_hpo.exceptions import JobStateError

__all__ = ["check_may_act", "identity", "is_mine", "owner_name", "stamp"]

#: where SageMaker Studio describes the app a kernel runs in (its domain, user profile, space)
STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _studio_profile(path: Path = STUDIO_METADATA) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    profile = data.get("UserProfileName") if isinstance(data, dict) else None
    return profile if isinstance(profile, str) and profile else None


def identity() -> dict[str, Any]:
    """Who this process acts for, and from which host."""
    return {"user": _os_user(), "host": socket.gethostname(), "jupyter": os.environ.get("JUPYTERHUB_USER") or None,
            "studio": _studio_profile()}


def stamp() -> dict[str, Any]:
    """:func:`identity` with the time: what ``stopped_by`` and ``resumed_by`` record."""
    return {**identity(), "time": time.time()}


def owner_name(owner: Mapping[str, Any] | None) -> str:
    """The name a job's owner is shown and compared under; ``""`` for a job launched before owners were kept."""
    if not isinstance(owner, Mapping):
        return ""
    return str(owner.get("studio") or owner.get("jupyter") or owner.get("user") or "")


def is_mine(owner: Mapping[str, Any] | None) -> bool:
    """True when this process's user launched the job (or nobody is recorded: a job from before owners)."""
    name = owner_name(owner)
    return not name or name == owner_name(identity())


def check_may_act(name: str, attrs: Mapping[str, Any], action: str, force: bool) -> None:
    """Raise JobStateError when job ``name`` belongs to someone else and ``force`` is not given."""
    owner = attrs.get("owner")
    if force or is_mine(owner):
        return
    host = owner.get("host") if isinstance(owner, Mapping) else None
    raise JobStateError(f"only a job's owner may {action} it without --force, but job {name!r} belongs to "
                        f"{owner_name(owner)}{f' (launched on {host})' if host else ''}; pass --force to {action} "
                        "it anyway (who did is recorded).")
