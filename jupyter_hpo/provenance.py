"""What produced a job: recorded by its runner as the job's ``provenance`` attribute, before its first trial.

The record (:func:`collect`), each part absent when it does not apply:

``spec_sha256``  SHA-256 of the job's spec (its canonical JSON); :func:`job_provenance` adds the spec itself
``code``         ``{"script", "sha256"}`` of a script trial, or ``{"function", "sha256"}`` of the pickled objective
``inputs``       local files named in the spec (a hyperparameter value or ``backend.options.inputs`` that is an
                 existing path, relative to the launch folder or the script's): ``{path: {"size", "mtime",
                 "sha256_first_mb"}}`` (a folder: each of its files, at most 1,000); S3 inputs of the SageMaker
                 backends: ``{s3 uri: {key: ETag}}`` (at most 1,000 objects per channel)
``packages``     ``{distribution: version}`` of the interpreter the local workers run: the runner's own
                 (``sys.executable``; workers are spawned from it), computed by the runner; None on SageMaker,
                 where the image stands for them. The list (~5 KB) is kept in the store's blob table, by
                 content, and the job's attribute holds ``packages_blob`` (``{"sha256", "count", "bytes"}``)
                 in its place (:func:`pack_packages`), so listing jobs does not read it for every job;
                 :func:`job_provenance` gives it back
``python``       the version of that interpreter (``3.11.7``), and ``implementation``
``seed``         the spec's seed (None: unseeded)
``git``          ``{"commit", "dirty", "root"}`` of the repository holding the script (or, for a function, the
                 launch folder); absent when there is none or ``git`` is not installed
``owner``        who launched the job (:mod:`jupyter_hpo.owners`)
``image``        SageMaker: ``{"uri", "digest"}`` of the training image (the digest when the URI pins one):
                 the spec's ``image``, replaced by the ``TrainingImage`` DescribeTrainingJob gives for the
                 first trial (a framework's image URI resolved)
``recorded``     when it was recorded (epoch seconds)

Example:
    >>> job_provenance(jupyter_hpo.attach("credit-xgb"))["code"]  # doctest: +SKIP
    {'script': '/home/me/examples/credit_default/train.py', 'sha256': '5f1c...'}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.records import PROVENANCE, SPEC

if TYPE_CHECKING:
    from jupyter_hpo.api import Job

__all__ = ["PACKAGES_BLOB", "collect", "file_identity", "image_identity", "job_provenance", "pack_packages",
           "provenance_lines", "unpack_packages"]

_FIRST_MB = 2**20
_MAX_FILES = 1000
_MAX_PATH = 4096
#: the key that stands for the package list, kept in the store's blob table (:func:`pack_packages`)
PACKAGES_BLOB = "packages_blob"


def job_provenance(job: Job) -> dict[str, Any]:
    """The job's provenance (see the module docstring) with its ``spec`` and its whole package list; ``{}``
    parts for a job recorded before provenance existed or whose runner has not started yet (only ``spec`` and
    ``owner`` then)."""
    attrs = job.attrs
    recorded = attrs.get(PROVENANCE)
    out = job.store.whole_provenance(recorded) if isinstance(recorded, Mapping) else {"owner": attrs.get("owner")}
    out["spec"] = attrs.get(SPEC)
    return out


def pack_packages(record: Mapping[str, Any], keep: Callable[[bytes], str]) -> dict[str, Any]:
    """``record`` with its package list handed to ``keep`` (which stores the bytes and returns their SHA-256) and
    replaced by ``packages_blob``: ``{"sha256", "count", "bytes"}``. A record without a list is returned as is."""
    packages = record.get("packages")
    if not isinstance(packages, Mapping) or not packages:
        return dict(record)
    data = json.dumps(dict(packages)).encode()
    out = {k: v for k, v in record.items() if k != "packages"}
    out[PACKAGES_BLOB] = {"sha256": keep(data), "count": len(packages), "bytes": len(data)}
    return out


def unpack_packages(record: Mapping[str, Any], read: Callable[[str], bytes | None]) -> dict[str, Any]:
    """``record`` with its package list back under ``packages`` (``read`` gives the bytes of a SHA-256, or None);
    a list missing from the store is ``None``, with ``packages_error`` saying so."""
    out = dict(record)
    ref = out.pop(PACKAGES_BLOB, None)
    if not isinstance(ref, Mapping):
        return out
    data = read(str(ref.get("sha256")))
    if data is None:
        out["packages"] = None
        out["packages_error"] = (f"the list of {ref.get('count')} packages (sha256 {str(ref.get('sha256'))[:12]}...) "
                                 "is missing from the store")
    else:
        out["packages"] = json.loads(data)
    return out


def _sha256_file(path: Path, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        if limit is not None:
            digest.update(f.read(limit))
        else:
            for block in iter(lambda: f.read(_FIRST_MB), b""):
                digest.update(block)
    return digest.hexdigest()


def file_identity(path: Path) -> dict[str, Any]:
    """``{"size", "mtime", "sha256_first_mb"}`` of a file: what tells one data file from another cheaply."""
    st = path.stat()
    return {"size": st.st_size, "mtime": st.st_mtime, "sha256_first_mb": _sha256_file(path, _FIRST_MB)}


def _local_path(value: Any, folders: list[Path]) -> Path | None:
    if not isinstance(value, str) or not value or len(value) > _MAX_PATH or "\0" in value or "://" in value:
        return None
    for folder in folders:
        try:
            candidate = (folder / os.path.expanduser(value)).resolve()
            if candidate.exists():
                return candidate
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def _local_inputs(values: list[Any], folders: list[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in values:
        path = _local_path(value, folders)
        if path is None:
            continue
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[:_MAX_FILES]
        for f in files:
            try:
                out[str(f)] = file_identity(f)
            except OSError as e:
                out[str(f)] = {"error": str(e)}
    return out


def _s3_inputs(uris: list[str], options: Mapping[str, Any]) -> dict[str, Any]:
    """``{uri: {key: ETag}}`` of S3 inputs (ListObjectsV2); an error is recorded, never raised."""
    if not uris or options.get("simulate") is not None:  # a simulated job's S3 is the simulator's
        return {}
    out: dict[str, Any] = {}
    try:
        import boto3

        s3 = boto3.Session(profile_name=options.get("profile"), region_name=options.get("region")).client("s3")
    except Exception as e:  # noqa: BLE001 - provenance is recorded as far as it goes
        return {uri: {"error": f"{type(e).__name__}: {e}"} for uri in uris}
    for uri in uris:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        try:
            page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=_MAX_FILES)
            out[uri] = {o["Key"]: o["ETag"].strip('"') for o in page.get("Contents") or []}
        except Exception as e:  # noqa: BLE001 - as above
            out[uri] = {"error": f"{type(e).__name__}: {e}"}
    return out


def _git(folder: Path) -> dict[str, Any] | None:
    """The commit and dirty flag of the repository holding ``folder``; None without git or a repository."""
    git = shutil.which("git")
    if git is None or not folder.is_dir():
        return None

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run([git, "-C", str(folder), *args], capture_output=True, text=True, timeout=20,
                                  check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if not commit:
        return None
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status), "root": run("rev-parse",
                                                                                             "--show-toplevel")}


def _packages() -> dict[str, str]:
    from importlib import metadata

    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            out.setdefault(str(name), str(dist.version))
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def image_identity(uri: str) -> dict[str, Any]:
    """``{"uri", "digest"}`` of a training image: the digest when the URI pins one (``...@sha256:...``)."""
    return {"uri": uri, "digest": uri.partition("@")[2] or None}


def _image(options: Mapping[str, Any]) -> dict[str, Any]:
    uri = options.get("image")
    if not isinstance(uri, str):  # a framework's image: its URI is recorded when the first trial has run
        return {"uri": None, "digest": None, "framework": options.get("framework")}
    return image_identity(uri)


def collect(attrs: Mapping[str, Any], spec: Mapping[str, Any], job_dir: Path) -> dict[str, Any]:
    """The provenance of a job from its attributes and its spec as this runner sees it (``spec_here``)."""
    trial = spec.get("trial") or {}
    backend = spec.get("backend") or {}
    options = backend.get("options") or {}
    local = backend.get("name", "local") == "local"
    folders = [Path(str(attrs.get("cwd") or os.getcwd()))]
    code: dict[str, Any] = {}
    if trial.get("script"):
        script = Path(str(trial["script"]))
        folders.append(script.parent)
        try:
            code = {"script": str(script), "sha256": _sha256_file(script)}
        except OSError as e:
            code = {"script": str(script), "error": str(e)}
    else:
        objective = attrs.get("objective")
        pickled = job_dir / "objective.pkl"
        digest = objective.get("sha256") if isinstance(objective, Mapping) else None
        if digest is None and pickled.is_file():
            digest = _sha256_file(pickled)
        code = {"function": trial.get("function"), "sha256": digest}
    channels = options.get("inputs") or {}
    s3 = [u for u in (channels.values() if isinstance(channels, Mapping) else []) if str(u).startswith("s3://")]
    named = list((trial.get("hyperparameters") or {}).values())
    if isinstance(channels, Mapping):
        named += [u for u in channels.values() if not str(u).startswith("s3://")]
    out: dict[str, Any] = {
        "spec_sha256": hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest(),
        "code": code,
        "inputs": {**_local_inputs(named, folders), **_s3_inputs(s3, options)},
        "packages": _packages() if local else None,
        "python": None if not local else {"version": ".".join(map(str, sys.version_info[:3])),
                   "implementation": sys.implementation.name, "executable": sys.executable},
        "seed": spec.get("seed"),
        "owner": attrs.get("owner"),
        "recorded": time.time(),
    }
    repo = _git(folders[-1])
    if repo is not None:
        out["git"] = repo
    if not local:
        out["image"] = _image(options)
    return out


def provenance_lines(prov: Mapping[str, Any]) -> list[str]:
    """The provenance as short lines for ``jupyter hpo show`` (``provenance: ...``); packages are counted
    (``--json`` lists them)."""
    if not prov.get("spec_sha256") and not prov.get("error"):
        return ["provenance: not recorded (the job's runner has not started, or it predates provenance)"]
    lines = []
    if prov.get("error"):
        lines.append(f"provenance: could not be collected: {prov['error']}")
    code = prov.get("code") or {}
    what = code.get("script") or code.get("function")
    if what:
        lines.append(f"provenance: code {what} sha256 {str(code.get('sha256'))[:12]}")
    if prov.get("spec_sha256"):
        lines.append(f"provenance: spec sha256 {prov['spec_sha256'][:12]}, seed {prov.get('seed')}")
    for path, ident in (prov.get("inputs") or {}).items():
        if isinstance(ident, Mapping) and "sha256_first_mb" in ident:
            lines.append(f"provenance: input {path} ({ident['size']:,} bytes, first MB sha256 "
                         f"{ident['sha256_first_mb'][:12]})")
        elif isinstance(ident, Mapping):
            lines.append(f"provenance: input {path} ({len(ident)} object(s) with their ETags)")
    python = prov.get("python") or {}
    if python:
        lines.append(f"provenance: python {python.get('version')} ({python.get('implementation')}), "
                     f"{len(prov.get('packages') or {})} packages")
    if prov.get("packages_error"):
        lines.append(f"provenance: {prov['packages_error']}")
    git = prov.get("git")
    if git:
        lines.append(f"provenance: git {git.get('commit')}{' (dirty)' if git.get('dirty') else ''} in "
                     f"{git.get('root')}")
    image = prov.get("image")
    if image:
        lines.append(f"provenance: image {image.get('uri') or image.get('framework')}"
                     + (f" digest {image['digest']}" if image.get("digest") else ""))
    owner = prov.get("owner") or {}
    if owner:
        lines.append(f"provenance: launched by {owner.get('user')}@{owner.get('host')}")
    return lines
