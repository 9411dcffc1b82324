"""The trial's code for SageMaker: ``sourcedir.tar.gz`` (the source folder, ``jupyter_hpo.trial`` and the
space), and its upload to S3.

A ``requirements.txt`` at the top of the source folder travels as ``jupyter_hpo_requirements.txt``, with
jupyter-hpo's entry wrapper (:mod:`jupyter_hpo.sagemaker._entry`) as the program: it installs the
requirements once per warm pool instead of at every job start, then runs the script.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.sagemaker._entry import PROGRAM, REQUIREMENTS, launcher
from jupyter_hpo.sagemaker.errors import explain_client_error
from jupyter_hpo.sagemaker.options import split_s3

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = ["SPACE_FILE", "TOOLKIT_REQUIREMENTS", "package_source", "source_and_entry", "upload_source"]

_VENDORED = ("exceptions.py", "trial.py", "space.py", "_space_checks.py", "_yaml.py", "_limits.py")
SPACE_FILE = "jupyter_hpo_space.json"
#: the static hyperparameters as the spec has them, each with the string SageMaker gets: ``trial.params()`` in the
#: container returns them as they were (``"1.10"`` stays a string, ``[64, 32]`` a list), not as their text reads
STATIC_FILE = "jupyter_hpo_static.json"
#: The source folder's requirements, which the SageMaker training toolkit installs at every job start.
TOOLKIT_REQUIREMENTS = "requirements.txt"


def _static_values(spec: TuningSpec) -> dict[str, dict[str, Any]]:
    """``{name: {"value": v, "sent": the string SageMaker gets}}`` for each static hyperparameter JSON can hold."""
    from jupyter_hpo.sagemaker.requests import hyperparameter_strings

    sent = hyperparameter_strings(spec.trial.hyperparameters)
    out = {}
    for name, value in spec.trial.hyperparameters.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):  # not JSON: the container reads its text, as before
            continue
        out[str(name)] = {"value": value, "sent": sent[str(name)]}
    return out


def package_source(source_dir: str | os.PathLike[str], spec: TuningSpec, *, max_mb: float = 200.0) -> bytes:
    """``sourcedir.tar.gz`` for SageMaker: the source folder, ``jupyter_hpo.trial`` and the space.

    The trial helper travels with the code (a few pure-Python files), so the training script can
    ``from jupyter_hpo import trial`` in a stock framework image; ``jupyter_hpo_space.json`` lets it
    type the tuned string hyperparameters back, and :data:`STATIC_FILE` gives it the static ones as they were.
    """
    from jupyter_hpo._job_files import _unreadable, check_not_home, listed_files
    from jupyter_hpo.store import default_home

    root = Path(source_dir)
    if not root.is_dir():
        raise SpecError(f"`backend.options.source_dir` must be a folder, but got {str(source_dir)!r}.")
    check_not_home(root, "the folder uploaded to SageMaker (`backend.options.source_dir`, else the script's folder)",
                   "sourcedir.tar.gz on S3", "set `backend.options.source_dir` to a folder that holds only the "
                   "script and its code, or move them into one")
    wrapped = (root / TOOLKIT_REQUIREMENTS).is_file()
    if wrapped:
        script = _script_in(root, spec)
    buffer = io.BytesIO()
    total = 0
    # the files the store keeps of a script's folder (the same folders left out; jupyter-hpo's home, with its store
    # and every job's files, too), linked files as their content (a link pointed outside the archive)
    with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
        for path in listed_files(root, (default_home().resolve(),)):
            rel = path.relative_to(root)
            if rel.parts[0] == "jupyter_hpo":
                continue  # the vendored copy below is the one that matches the store's protocol
            try:
                total += path.stat().st_size
                if total > max_mb * 2**20:
                    raise SpecError(f"the source folder {str(root)!r} is over {max_mb:g} MB; put data in S3 and pass "
                                    "it as `backend.options.inputs`.")
                tar.add(path, arcname=REQUIREMENTS if wrapped and rel == Path(TOOLKIT_REQUIREMENTS) else str(rel),
                        recursive=False)
            except OSError as e:
                raise _unreadable(path, root, e) from None
        package = Path(__file__).resolve().parents[1]

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

        add_bytes("jupyter_hpo/__init__.py",
                  b'"""jupyter_hpo.trial for a SageMaker container (packaged by jupyter-hpo)."""\n')
        for name in _VENDORED:
            add_bytes(f"jupyter_hpo/{name}", (package / name).read_bytes())
        add_bytes(SPACE_FILE, json.dumps(spec.space.to_dict()).encode())
        add_bytes(STATIC_FILE, json.dumps(_static_values(spec)).encode())
        if wrapped:
            add_bytes("jupyter_hpo/_entry.py", (package / "sagemaker" / "_entry.py").read_bytes())
            add_bytes(PROGRAM, launcher(script).encode())
    return buffer.getvalue()


def _script_in(root: Path, spec: TuningSpec) -> str:
    """The script's path in the archive of ``root``, which must not hold the wrapper's own file names."""
    taken = [name for name in (PROGRAM, REQUIREMENTS) if (root / name).exists()]
    if taken:
        raise SpecError(f"the source folder {str(root)!r} holds {taken[0]!r}, a name jupyter-hpo gives its entry "
                        "wrapper when the folder has a requirements.txt; rename that file.")
    try:
        return Path(spec.trial.script or "").resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise SpecError(f"`trial.script` ({spec.trial.script}) must be inside the source folder ({root}).") from None


def source_and_entry(spec: TuningSpec, opts: SageMakerOptions) -> tuple[Path, str]:
    """The folder uploaded as ``sourcedir.tar.gz`` (``source_dir``, or the script's folder) and the program
    the toolkit runs (``sagemaker_program``): the script's path inside it, or jupyter-hpo's entry wrapper
    (which runs the script) when the folder has a ``requirements.txt``."""
    script = Path(spec.trial.script or "")
    source = Path(opts.source_dir).expanduser().resolve() if opts.source_dir else script.resolve().parent
    if not source.is_dir():
        raise SpecError(f"`backend.options.source_dir` must be an existing folder, but got {str(source)!r}.")
    try:
        entry = script.resolve().relative_to(source)
    except ValueError:
        raise SpecError(f"`trial.script` ({script}) must be inside `backend.options.source_dir` ({source}), "
                        "which is what is uploaded to SageMaker.") from None
    if (source / TOOLKIT_REQUIREMENTS).is_file():
        _script_in(source, spec)
        return source, PROGRAM
    return source, entry.as_posix()


def upload_source(s3: Any, spec: TuningSpec, opts: SageMakerOptions, code_uri: str) -> str:
    """Package the trial's code and put it at ``code_uri``; returns the program's path in the archive.

    Raises:
        SpecError: the source folder or script is not usable.
        BackendError: the upload failed (the message says why and what to do).
    """
    source_dir, entry = source_and_entry(spec, opts)
    bucket, key = split_s3(code_uri)
    body = package_source(source_dir, spec)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, **opts.upload_encryption())
    except Exception as e:
        raise BackendError(f"could not upload the training code to {code_uri}: "
                           f"{explain_client_error(e, opts)}") from None
    return entry
