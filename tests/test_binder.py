"""Binder's environment (binder/) declares what pyproject.toml and package.json declare: no drift."""

from __future__ import annotations

import json
import os
import re
import sys

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

BINDER = REPO / "binder"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _package_json() -> dict:
    return json.loads((REPO / "package.json").read_text())


def _environment() -> dict:
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def _conda_specs() -> dict[str, str]:
    """Conda dependencies as {name: spec}: 'python=3.11' -> {'python': '=3.11'}."""
    specs = {}
    for dep in _environment()["dependencies"]:
        if isinstance(dep, str):
            name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep).groups()
            specs[name] = spec.strip()
    return specs


def _binder_pip() -> dict[str, Requirement]:
    pip = next(d["pip"] for d in _environment()["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = [Requirement(line) for line in pip]
    return {canonicalize_name(r.name): r for r in reqs}


def _runtime_requirements() -> dict[str, Requirement]:
    """What a user of the example needs: the package's dependencies and its `examples` extra."""
    project = _pyproject()["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["examples"]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def _lower_bound(spec: SpecifierSet) -> Version:
    bounds = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    assert len(bounds) == 1, f"expected one lower bound in {spec}"
    return bounds[0]


def test_binder_declares_every_runtime_dependency_with_pyproject_specifiers() -> None:
    binder, runtime = _binder_pip(), _runtime_requirements()
    missing = sorted(set(runtime) - set(binder))
    assert missing == [], f"binder/environment.yml lacks {missing} (pyproject.toml declares them)"
    drift = {name: (str(binder[name].specifier), str(req.specifier))
             for name, req in runtime.items() if binder[name].specifier != req.specifier}
    assert drift == {}, f"binder vs pyproject specifiers differ: {drift}"


def test_binder_only_packages_match_what_the_extension_is_built_for() -> None:
    binder = _binder_pip()
    # every other pyproject requirement (test extra, build system) that binder also lists must agree too
    project = _pyproject()
    others = [Requirement(r) for extra in project["project"]["optional-dependencies"].values() for r in extra]
    others += [Requirement(r) for r in project["build-system"]["requires"]]
    for req in others:
        name = canonicalize_name(req.name)
        if name in binder and req.specifier:
            assert binder[name].specifier == req.specifier, (name, str(binder[name].specifier), str(req.specifier))
    # JupyterLab: the same major.minor as the @jupyterlab/application the sidebar is compiled against
    caret = _package_json()["dependencies"]["@jupyterlab/application"]
    major, minor = re.match(r"^\^(\d+)\.(\d+)", caret).groups()
    lab = binder["jupyterlab"].specifier
    assert _lower_bound(lab) == Version(f"{major}.{minor}"), (str(lab), caret)
    assert Version(f"{int(major) + 1}.0") not in lab, f"{lab} admits the next major JupyterLab"


def test_binder_python_and_node_satisfy_the_declared_requirements() -> None:
    conda = _conda_specs()
    python = Version(conda["python"].lstrip("="))
    assert python in SpecifierSet(_pyproject()["project"]["requires-python"])
    engines = _package_json()["engines"]["node"]  # e.g. ">=20.19"
    node = SpecifierSet(",".join(conda["nodejs"].split(",")))
    assert _lower_bound(node) == _lower_bound(SpecifierSet(engines)), (conda["nodejs"], engines)


def test_postbuild_installs_the_repository_with_the_examples_extra() -> None:
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert "pip install --no-cache-dir -e '.[examples]'" in text
    assert "examples" in _pyproject()["project"]["optional-dependencies"]


def test_the_binder_link_opens_an_existing_notebook() -> None:
    link = re.search(r"https://mybinder\.org/v2/gh/\S+", (BINDER / "environment.yml").read_text()).group(0)
    path = re.search(r"urlpath=lab/tree/(\S+)$", link).group(1)
    assert (REPO / path).is_file(), f"{path} (opened by the Binder link) does not exist"
    home = _pyproject()["project"]["urls"]["Homepage"]
    assert link.startswith("https://mybinder.org/v2/gh/" + home.removeprefix("https://github.com/") + "/HEAD?")
