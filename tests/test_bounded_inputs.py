"""Bad and oversized input is refused at validation time (issue 16, items 4 and 10).

Each case runs ``jupyter hpo launch SPEC --detach`` as a user would and checks the README's promise
for bad input: exit code 2, one line on stderr naming the field and the rule, no traceback, and
nothing written (the store has no job and no job folder). ``--detach`` keeps a spec that is wrongly
accepted from blocking the test: the launch then exits 0 and the test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_hpo._limits import MAX_CHOICES, MAX_PATH_CHARS
from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace
from jupyter_hpo.spec import TrialDef, TuningSpec
from tests.conftest import REPO

JUPYTER = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"
HEAD = "name: bounded\ntrial: {function: 'objective.py:f'}\nbudget: {max_trials: 1}\n"


def bomb(levels: int, fan_out: int = 10) -> str:
    """A YAML alias bomb under ``trial.hyperparameters``: ``fan_out ** levels`` leaves from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['x'] * fan_out)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan_out)}]" for i in range(1, levels + 1)]
    return ("name: bounded\ntrial:\n  function: 'objective.py:f'\n  hyperparameters:\n"
            + "".join(f"    {line}\n" for line in lines) + "space: {x: [1, 2]}\nbudget: {max_trials: 1}\n")


def hyperparameters(body: str) -> str:
    """A spec whose ``trial.hyperparameters`` is ``body`` (YAML lines, indented by the caller)."""
    return ("name: bounded\ntrial:\n  function: 'objective.py:f'\n  hyperparameters:\n" + body
            + "space: {x: [1, 2]}\nbudget: {max_trials: 1}\n")


def sagemaker(simulate: str) -> str:
    return ("name: bounded\ntrial: {script: train.py}\nspace: {x: [1, 2]}\nbudget: {max_trials: 1}\n"
            f"backend: {{name: sagemaker, options: {{simulate: {simulate}}}}}\n")


def script(path: str) -> str:
    return f"name: bounded\ntrial: {{script: {path}}}\nspace: {{x: [1, 2]}}\nbudget: {{max_trials: 1}}\n"


CASES = {
    # item 4: bounded inputs
    "alias bomb": (bomb(6), (r"`trial\.hyperparameters\.a4` must hold at most 100,000 values \(counting each use "
                            r"of an alias as a copy\), but it holds more\.")),
    "alias to itself": (hyperparameters("    a: &a [1, *a]\n"),
                        r"a spec must be finite, but the value at line 5, column \d+ contains itself through an alias"),
    "long text through aliases": (
        hyperparameters("    s: &s '" + "y" * 20_000 + "'\n    t: [" + ", ".join(["*s"] * 60) + "]\n"),
        (r"`trial\.hyperparameters\.t` must hold at most 1,000,000 characters of text \(counting each use of an "
        r"alias as a copy\), but it holds more\.")),
    "nested too deep": (hyperparameters("    deep: " + "[" * 60 + "]" * 60 + "\n"),
                        (r"`trial\.hyperparameters\.deep` must hold at most 50 levels of nested lists and mappings, "
                        r"but it holds more\.")),
    "nested beyond the parser": (hyperparameters("    deep: " + "[" * 3000 + "]" * 3000 + "\n"),
                                 (r"a spec must nest at most 50 levels deep, but it nests deeper than the YAML parser "
                                 r"can follow\.")),
    "spec file too large": (HEAD + "space: {x: [1, 2]}\n# " + "z" * 1_000_001 + "\n",
                            r"a spec file must be at most 1,000,000 bytes, but .* has 1,000,"),
    "too many choices": (HEAD + "space: {x: [" + ", ".join(map(str, range(MAX_CHOICES + 1))) + "]}\n",
                         r"`space`: `choices` of 'x' must hold at most 10,000 values, but got 10,001\."),
    "grid too large": (HEAD + "strategy: grid\nspace: {x: {type: int, low: 0, high: 999}, "
                              "y: {type: int, low: 1, high: 1000}}\n",
                       (r"`space` must have at most 100,000 grid points for `strategy: grid` .* but got 1,000,000 "
                       r"\(x: 1,000 x y: 1,000\) with `budget\.max_trials` 1; use `strategy: random`, or fewer values\.")),
    "float step too small": (HEAD + "space: {x: {type: float, low: 0, high: 1.0e+300, step: 1.0e-300}}\n",
                             r"`\(high - low\) / step` must be at most 2\*\*53 steps for 'x'"),
    # item 10: bad input becomes tracebacks
    "script through a symlink loop": (script("loop1.py"), (r"`trial\.script` must be an existing file, not a symlink "
                                                          r"loop, but got '.*loop1\.py'\.")),
    "script path of 5,000 characters": (script("a" * 5000 + ".py"),
                                        (rf"`trial\.script` must be a path of at most {MAX_PATH_CHARS} characters, "
                                        r"but got one of \d+: '.*\.\.\.a+\.py' \(\d+ characters\)\.$")),
    "script path part too long": (script("b" * 300 + "/train.py"),
                                  r"`trial\.script` must be an existing file \(File name too long\)"),
    "script path with NUL": (script('"tr\\0ain.py"'),
                             r"`trial\.script` must be a path without NUL characters, but got '.*tr\\x00ain\.py'\."),
    "script under an unknown user": (script("~nosuchuser/train.py"),
                                     (r"`trial\.script` must start with `~` or `~user` for a user with a home "
                                     r"directory \(there is no user 'nosuchuser'\), but got '~nosuchuser/train\.py'\.")),
    "simulate speed that never ends": (sagemaker("{speed: 1.0e-300}"),
                                       (r"`backend\.options\.simulate\.speed` must be a number from 1 to 10000, "
                                       r"but got 1e-300\.")),
    "simulate speed not a number": (sagemaker("{speed: fast}"),
                                    (r"`backend\.options\.simulate\.speed` must be a number from 1 to 10000, "
                                    r"but got 'fast'\.")),
    "simulate unknown setting": (sagemaker("{speed: 100, clock: virtual}"),
                                 r"unknown field\(s\) `backend\.options\.simulate\.clock`; allowed: account, "),
    "simulate negative duration": (sagemaker("{cold_startup_s: -5}"),
                                   (r"`backend\.options\.simulate\.cold_startup_s` must be a number from 0 to "
                                   r"2419200, but got -5\.")),
    "simulate unknown executor": (sagemaker("{executor: gpu}"),
                                  r"`backend\.options\.simulate\.executor` must be model or script, but got 'gpu'\."),
}


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "objective.py").write_text("def f(p):\n    return 1.0\n")
    (folder / "train.py").write_text("print('objective=1')\n")
    (folder / "loop1.py").symlink_to("loop2.py")
    (folder / "loop2.py").symlink_to("loop1.py")
    return folder


def launch(home: Path, spec: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    return subprocess.run([JUPYTER, "hpo", "launch", str(spec), "--detach"], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def assert_nothing_written(home: Path) -> None:
    from jupyter_hpo import api

    assert api.list_jobs() == []
    assert not any((home / "jobs").glob("*"))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_naming_the_field_and_writes_nothing(home, spec_dir, case):
    text, message = CASES[case]
    spec = spec_dir / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    out = launch(home, spec)
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith("error: ") and re.search(message, lines[0]), lines[0]
    assert_nothing_written(home)


# -- the same rules through the Python API ---------------------------------------------------------------
def test_a_grid_is_counted_not_listed() -> None:
    space = SearchSpace([IntParam("x", 0, 10**12), FloatParam("y", 0, 1, step=0.25),
                         CategoricalParam("z", ("a", "b"))])
    assert space.grid_size() == (10**12 + 1) * 5 * 2
    with pytest.raises(SpecError, match=r"at most 100,000 grid points .* but got 10,000,000,000,010 "
                                        r"\(x: 1,000,000,000,001 x y: 5 x z: 2\) with `budget\.max_trials` 20"):
        TuningSpec(name="g", trial=TrialDef(function=abs), space=space, strategy="grid")


def test_categorical_choices_are_bounded() -> None:
    with pytest.raises(SearchSpaceError, match=r"`choices` of 'c' must hold at most 10,000 values, but got 10,001"):
        CategoricalParam("c", tuple(range(MAX_CHOICES + 1)))
    assert len(CategoricalParam("c", tuple(range(MAX_CHOICES))).choices) == MAX_CHOICES


def test_a_float_step_that_overflows_is_refused() -> None:
    with pytest.raises(SearchSpaceError, match=r"must be at most 2\*\*53 steps for 'x'"):
        FloatParam("x", 0, 1e300, step=1e-300)


@pytest.mark.parametrize(("path", "message"), [
    ("~nosuchuser/train.py", r"there is no user 'nosuchuser'"),
    ("tr\0ain.py", r"must be a path without NUL characters"),
    ("c" * 5000, r"must be a path of at most 4096 characters, but got one of 5000"),
])
def test_a_bad_script_path_is_a_spec_error(path: str, message: str) -> None:
    with pytest.raises(SpecError, match=rf"^`trial\.script` .*{message}"):
        TrialDef(script=path)


def test_a_script_under_home_is_expanded_from_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "train.py").write_text("print('objective=1')\n")
    spec = TuningSpec.from_yaml("trial: {script: ~/train.py}\nspace: {x: [1, 2]}", base_dir=tmp_path / "elsewhere")
    assert spec.trial.script == str((tmp_path / "train.py").resolve())


GOOD_SIMULATE = {"speed": 200, "executor": "script", "s3_root": "s3-folder", "cold_startup_s": 240,
                 "warm_startup_s": 5, "download_s": 10, "upload_s": 5, "training_s": lambda rng, hp: 30.0,
                 "metric_fn": lambda rng, hp: 0.5, "warm_pool_quota": None, "instance_limit": 4, "seed": 7,
                 "account": "123456789012"}


def amt_spec(folder: Path, simulate: object) -> TuningSpec:
    (folder / "train.py").write_text("print('objective=1')\n")
    return TuningSpec.from_dict({"trial": {"script": "train.py"}, "space": {"x": [1, 2]},
                                 "backend": {"name": "amt", "options": {"simulate": simulate}}}, base_dir=folder)


@pytest.mark.parametrize(("bad", "message"), [
    ({"speed": 1e-300}, r"`backend\.options\.simulate\.speed` must be a number from 1 to 10000"),
    ({"speed": float("inf")}, r"`backend\.options\.simulate\.speed` must be a number from 1 to 10000"),
    ({"training_s": -1}, r"`backend\.options\.simulate\.training_s` must be a number from 0 to 2419200"),
    ({"warm_pool_quota": -1}, r"`backend\.options\.simulate\.warm_pool_quota` must be null or an integer >= 0"),
    ({"metric_fn": "auc"}, r"`backend\.options\.simulate\.metric_fn` must be a callable"),
    ({"s3_root": "s3\0"}, r"`backend\.options\.simulate\.s3_root` must be a path without NUL"),
    ({"account": 123}, r"`backend\.options\.simulate\.account` must be an AWS account id"),
    ({"region": "eu-west-1"}, r"unknown field\(s\) `backend\.options\.simulate\.region`"),
])
def test_each_simulate_setting_is_checked_by_the_spec(tmp_path: Path, bad: dict[str, object], message: str) -> None:
    assert amt_spec(tmp_path, GOOD_SIMULATE).backend_options["simulate"] is GOOD_SIMULATE  # every setting, valid
    with pytest.raises(SpecError, match=message):
        amt_spec(tmp_path, {**GOOD_SIMULATE, **bad})
    with pytest.raises(SpecError, match=r"`backend\.options\.simulate` must be a mapping of simulation settings"):
        amt_spec(tmp_path, list(bad.items()))


def test_an_alias_bomb_is_refused_before_it_is_built() -> None:
    text = bomb(9)  # a billion leaves from 700 bytes
    assert len(text) < 1000
    with pytest.raises(SpecError, match=r"`trial\.hyperparameters\.a4` must hold at most 100,000 values"):
        TuningSpec.from_yaml(text)
    levels = "".join(f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 6))
    with pytest.raises(SearchSpaceError, match=r"`x\.high\.l4` must hold at most 100,000 values"):
        SearchSpace.from_yaml("x:\n  type: int\n  low: 0\n  high:\n    l0: &l0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + levels)
