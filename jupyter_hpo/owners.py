"""Who launched a job, and who stopped or resumed it: the ``owner``, ``stopped_by`` and ``resumed_by`` job attributes.

An identity is ``{"user", "host", "jupyter", "studio"}``: the OS user and host name; the JupyterHub user
(``$JUPYTERHUB_USER``, which a Hub sets for the user's server and its kernels) when there is one; the
SageMaker Studio user profile (from Studio's ``resource-metadata.json``) when there is one. The name a job
is shown under, and compared by for ``--mine`` and ``--force``, is the Studio profile, else the Hub user,
else the OS user: in Studio every OS user is ``sagemaker-user``.

Through the Jupyter server (the REST API and the sidebar), the requester is :func:`requester`: the server
process's identity (a single-user server acts for the OS user who runs it; its token or password names nobody),
except that on a JupyterHub server the Hub user who sent the request (Jupyter's ``current_user``) is the
``jupyter`` name, so a Hub admin or a user the server is shared with acts as themselves.
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

__all__ = ["check_may_act", "identity", "is_mine", "owner_name", "owner_text", "requester", "stamp"]

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


def requester(jupyter_user: str | None) -> dict[str, Any]:
    """Who a request to the Jupyter server acts for: the server process's :func:`identity`, with the Hub user who
    sent it (``jupyter_user``, Jupyter's ``current_user.username``) as ``jupyter`` when the server runs under
    JupyterHub (``$JUPYTERHUB_USER`` is set for it); ``jupyter_user`` is ignored otherwise (a single-user
    server's token or password names nobody, and its anonymous user names are random)."""
    me = identity()
    if me["jupyter"] and jupyter_user:
        me["jupyter"] = jupyter_user
    return me


def stamp(who: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """``who`` (default :func:`identity`) with the time and ``extra`` (``via="rest"``): what ``stopped_by`` and
    ``resumed_by`` record."""
    return {**(who if who is not None else identity()), "time": time.time(), **extra}


def owner_name(owner: Mapping[str, Any] | None) -> str:
    """The name a job's owner is shown and compared under; ``""`` for a job launched before owners were kept."""
    if not isinstance(owner, Mapping):
        return ""
    return str(owner.get("studio") or owner.get("jupyter") or owner.get("user") or "")


def is_mine(owner: Mapping[str, Any] | None, me: Mapping[str, Any] | None = None) -> bool:
    """True when ``me`` (default: this process's user) launched the job, or nobody is recorded (a job from
    before owners)."""
    name = owner_name(owner)
    return not name or name == owner_name(me if me is not None else identity())


def owner_text(owner: Mapping[str, Any] | None) -> str:
    """The owner's name with the host the job was launched on, for messages."""
    host = owner.get("host") if isinstance(owner, Mapping) else None
    return f"{owner_name(owner)}{f' (launched on {host})' if host else ''}"


def check_may_act(name: str, attrs: Mapping[str, Any], action: str, force: bool,
                  me: Mapping[str, Any] | None = None, flag: str = "--force") -> None:
    """Raise JobStateError when job ``name`` belongs to someone other than ``me`` (default: this process's user)
    and ``force`` is not given; ``flag`` is how the message names the override."""
    owner = attrs.get("owner")
    if force or is_mine(owner, me):
        return
    # a stop and a resume record who asked (stopped_by, resumed_by), a refit by whom its job is owned; a register
    # writes nothing to the job
    recorded = "" if action == "register" else " (who did is recorded)"
    raise JobStateError(f"only a job's owner may {action} it without {flag}, but job {name!r} belongs to "
                        f"{owner_text(owner)}; pass {flag} to {action} it anyway{recorded}.")
