"""The shape of ``jupyter_hpo.sagemaker``: one door to the simulator, small modules, a code archive that imports.

These guard the layout issue 10 asked for, so it cannot rot unseen: production code reaches the
simulator only through ``jupyter_hpo.sagemaker.clients.simulated_clients``; no module of the package
is over ~500 lines; and the ``jupyter_hpo`` copy vendored into ``sourcedir.tar.gz`` imports with
nothing but the standard library (a module it needs but does not carry fails every SageMaker trial).
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import jupyter_hpo
from jupyter_hpo.sagemaker.packaging import package_source
from jupyter_hpo.spec import TuningSpec

PACKAGE = Path(jupyter_hpo.__file__).resolve().parent
SIM = "jupyter_hpo.sagemaker.sim"
#: the one production module allowed to import the simulator
DOOR = PACKAGE / "sagemaker" / "clients.py"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_production_code_imports_the_simulator_only_through_the_one_door() -> None:
    sim_dir = PACKAGE / "sagemaker" / "sim"
    importers = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if sim_dir not in path.parents
        and any(name == SIM or name.startswith(SIM + ".") for name in _imported_modules(path)))
    assert importers == [str(DOOR.relative_to(PACKAGE))]


def test_no_module_of_the_sagemaker_package_is_over_500_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
             for p in (PACKAGE / "sagemaker").rglob("*.py")}
    assert sizes and {name: n for name, n in sizes.items() if n > 500} == {}


def test_the_vendored_trial_helper_imports_with_the_standard_library_only(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('auc=0.5')\n")
    spec = TuningSpec.from_dict({"name": "vendored", "trial": {"script": str(tmp_path / "code" / "train.py")},
                                 "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}}})
    with tarfile.open(fileobj=io.BytesIO(package_source(tmp_path / "code", spec)), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    # -S: no site-packages, so only the vendored copy of jupyter_hpo can be found
    code = ("import sys; sys.path.insert(0, '.'); import jupyter_hpo.trial, jupyter_hpo.space; "
            "print(jupyter_hpo.trial.__file__)")
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path / "unpacked", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to((tmp_path / "unpacked").resolve())


@pytest.mark.parametrize("name", ["SageMakerBackend", "AmtBackend", "SageMakerOptions", "make_clients",
                                  "simulated_clients", "attach_spec", "spec_fields_from_model_trainer"])
def test_the_package_exports_its_public_names(name: str) -> None:
    from jupyter_hpo import sagemaker

    assert name in sagemaker.__all__ and getattr(sagemaker, name) is not None


def test_in_the_container_trial_params_gives_the_static_hyperparameters_as_the_spec_had_them(tmp_path: Path) -> None:
    """SageMaker passes every hyperparameter as a string; the static ones were typed back by what their text reads
    ("1.10" became 1.1, "007" 7, "True" True, and a list or null stayed a string). Run in the vendored copy, with
    the strings the request sends, as a training container runs it."""
    import json

    from jupyter_hpo.sagemaker.requests import hyperparameter_strings

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('auc=0.5')\n")
    static = {"version": "1.10", "code": "007", "word": "True", "layers": [64, 32], "nothing": None, "flag": True,
              "lr": 0.0001, "big": 1e20, "ratio": 1.0, "rounds": 100}
    spec = TuningSpec.from_dict({"name": "statics", "trial": {"script": str(tmp_path / "code" / "train.py"),
                                                               "hyperparameters": static},
                                 "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3},
                                           "opt": ["adam", "sgd"]}})
    with tarfile.open(fileobj=io.BytesIO(package_source(tmp_path / "code", spec)), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    config = tmp_path / "config"
    config.mkdir()
    sent = hyperparameter_strings({**static, "eta": 0.05, "opt": "sgd"})
    (config / "hyperparameters.json").write_text(json.dumps({**sent, "sagemaker_program": "train.py"}))
    code = "import json, sys; sys.path.insert(0, '.'); from jupyter_hpo import trial; print(json.dumps(trial.params()))"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path / "unpacked", capture_output=True,
                          text=True, timeout=60, check=False, env={"SM_INPUT_CONFIG_DIR": str(config)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {**static, "eta": 0.05, "opt": "sgd"}
