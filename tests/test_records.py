"""The record contract (``jupyter_hpo.records``): strict JSON everywhere, whatever numbers a trial produced,
and one list of record fields shared by the records, ``openapi.yaml`` and the sidebar's ``types.ts``."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from jupyter_hpo import api, records, trial
from jupyter_hpo.records import JOB_FIELDS, TRIAL_FIELDS, json_safe
from tests.conftest import REPO

OPENAPI = REPO / "jupyter_hpo" / "server" / "openapi.yaml"
TYPES_TS = REPO / "labextension" / "src" / "types.ts"
JUPYTER = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"
#: what the objectives below produce: fold scores of NaN or +inf (a trial per choice), static hyperparameters
FOLD_FLAGS = {"nan": {"fold_mean": "nan", "fold_std": "nan", "metrics.spread": "inf"},
              "inf": {"fold_mean": "inf", "fold_std": "nan", "metrics.spread": "inf"}}
SPEC_FLAGS = {"spec.trial.hyperparameters.lr": "nan", "spec.trial.hyperparameters.floor": "-inf"}


def strict(text: str | bytes) -> object:
    """Parse JSON as a strict parser (a browser's ``JSON.parse``, ``jq``) would: no NaN, no Infinity."""
    def refuse(name: str) -> object:
        raise ValueError(f"JSON must not contain {name} (not standard JSON)")

    return json.loads(text, parse_constant=refuse)


def folds_of(p):
    """Reports two folds of ``float(p["fold"])`` ("nan" or "inf") and returns 1.0 with an infinite extra metric."""
    cv = trial.folds(list(range(4)), k=2, stratified=False)
    for _ in cv:
        cv.report(float(p["fold"]))
    return {"objective": 1.0, "spread": float("inf")}


def _launch_with_api(name: str) -> api.Job:
    job = api.launch(objective=folds_of, space={"fold": ["nan", "inf"]}, strategy="grid", max_trials=2, name=name,
                     hyperparameters={"lr": float("nan"), "floor": float("-inf")})
    assert job.wait(timeout=120).value == "completed"
    return job


def _check_trials(trials: list[dict]) -> None:
    assert [t["state"] for t in trials] == ["complete", "complete"]
    for t in trials:
        assert t["nonfinite"] == FOLD_FLAGS[t["params"]["fold"]], t
        assert t["fold_mean"] is None and t["fold_std"] is None and t["value"] == 1.0


# -- (a) non-finite numbers, end to end --------------------------------------------------------------
@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


async def test_the_rest_api_answers_strict_json_with_flags_for_non_finite_numbers(jp_fetch, home):
    import jsonschema

    _launch_with_api("nonfinite-rest")
    doc = yaml.safe_load(OPENAPI.read_text())

    async def fetch(*path: str) -> dict:
        response = await jp_fetch("jupyter-hpo", "api", *path)
        assert response.code == 200
        body = strict(response.body)
        schema = doc["paths"]["/" + "/".join(path).replace("nonfinite-rest", "{name}")]["get"]["responses"]["200"]
        jsonschema.validate(body, {**schema["content"]["application/json"]["schema"], "components": doc["components"]})
        return body

    _check_trials((await fetch("jobs", "nonfinite-rest", "trials"))["trials"])
    detail = await fetch("jobs", "nonfinite-rest")
    assert detail["job"]["nonfinite"] == SPEC_FLAGS and detail["job"]["complete"] == 2
    assert detail["spec"]["trial"]["hyperparameters"] == {"lr": None, "floor": None}
    assert (await fetch("jobs"))["jobs"][0]["nonfinite"] == SPEC_FLAGS


def test_the_python_api_and_the_dashboard_rows_are_strict_json(home):
    from jupyter_hpo.widgets._dashboard import compact_row

    job = _launch_with_api("nonfinite-api")
    _check_trials(strict(json.dumps(job.trial_records(), allow_nan=False)))
    assert strict(json.dumps(job.summary(), allow_nan=False))["nonfinite"] == SPEC_FLAGS
    rows = [compact_row(r) for r in job.trial_records()]
    for row in strict(json.dumps(rows, allow_nan=False)):
        assert row["nonfinite"] == FOLD_FLAGS[row["params"]["fold"]] and row["fold_mean"] is None
    frame = job.trials()  # a DataFrame holds NaN and infinities: they come back there
    by_fold = dict(zip(frame["param_fold"], frame["fold_mean"], strict=True))
    assert math.isnan(by_fold["nan"]) and by_fold["inf"] == math.inf and "nonfinite" not in frame.columns


def test_the_cli_json_outputs_are_strict_json_with_flags(home, tmp_path):
    (tmp_path / "objective.py").write_text(textwrap.dedent("""
        from jupyter_hpo import trial

        def f(p):
            cv = trial.folds(list(range(4)), k=2, stratified=False)
            for _ in cv:
                cv.report(float(p["fold"]))
            return {"objective": 1.0, "spread": float("inf")}
    """))
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""
        name: nonfinite-cli
        trial: {function: "objective.py:f", hyperparameters: {lr: .nan, floor: -.inf}}
        space: {fold: [nan, inf]}
        strategy: grid
        budget: {max_trials: 2}
    """))
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)

    def hpo(*args: str) -> object:
        out = subprocess.run([JUPYTER, "hpo", *args], check=False, cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=180, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        return strict(out.stdout)

    launched = hpo("launch", str(tmp_path / "spec.yaml"), "--json")
    assert launched["status"] == "completed" and launched["nonfinite"] == SPEC_FLAGS
    [listed] = hpo("list", "--json")
    assert listed["nonfinite"] == SPEC_FLAGS
    shown = hpo("show", "nonfinite-cli", "--json")
    _check_trials(shown["trials"])
    assert shown["spec"]["trial"]["hyperparameters"] == {"lr": None, "floor": None}
    assert shown["job"]["nonfinite"] == SPEC_FLAGS


def test_json_safe_replaces_every_non_finite_number_and_names_it():
    nan, inf = float("nan"), float("inf")
    record = {"value": 1.5, "params": {"lr": nan, "name": "a", "n": 3, "ok": True, "none": None},
              "intermediate": {"0": 0.5, "3": inf}, "scores": [1.0, -inf, [nan]], "pair": (inf, 2.0)}
    safe, flags = json_safe(record)
    assert safe == {"value": 1.5, "params": {"lr": None, "name": "a", "n": 3, "ok": True, "none": None},
                    "intermediate": {"0": 0.5, "3": None}, "scores": [1.0, None, [None]], "pair": [None, 2.0]}
    assert flags == {"params.lr": "nan", "intermediate.3": "inf", "scores.1": "-inf", "scores.2.0": "nan",
                     "pair.0": "inf"}
    assert math.isnan(record["params"]["lr"]), "the input is left as it was"
    finite = {"a": [1.0, {"b": 2}], "c": "x"}
    assert json_safe(finite) == (finite, {}) and json_safe(finite)[0] is finite
    assert strict(records.dumps({"x": nan, "when": Path("/tmp")})) == {"x": None, "when": "/tmp"}


@pytest.mark.parametrize(("a", "b", "direction", "expected"), [
    (2.0, 1.0, "maximize", True), (1.0, 2.0, "maximize", False), (1.0, 2.0, "minimize", True),
    (1.0, 1.0, "maximize", False), (1.0, None, "minimize", True), (None, 1.0, "maximize", False),
    (float("nan"), None, "maximize", False), (float("inf"), 1.0, "maximize", False),
    (1.0, float("nan"), "minimize", True),
])
def test_better_is_the_one_rule(a, b, direction, expected):
    assert records.better(a, b, direction) is expected


# -- (b) openapi.yaml lists exactly the record fields ------------------------------------------------
def _schema(name: str) -> dict:
    return yaml.safe_load(OPENAPI.read_text())["components"]["schemas"][name]


@pytest.mark.parametrize(("schema", "fields"), [("Trial", TRIAL_FIELDS), ("JobSummary", JOB_FIELDS)])
def test_openapi_lists_exactly_the_record_fields_all_required(schema, fields):
    doc = _schema(schema)
    assert sorted(doc["properties"]) == sorted(fields)
    assert sorted(doc["required"]) == sorted(fields)


def test_the_records_a_job_produces_have_exactly_the_documented_fields(home):
    from tests import objectives

    job = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                     max_trials=2, name="record-fields")
    job.wait(timeout=60)
    assert [sorted(r) for r in job.trial_records()] == [sorted(_schema("Trial")["properties"])] * 2
    assert sorted(job.summary()) == sorted(_schema("JobSummary")["properties"])
    assert sorted(_schema("Trial")["properties"]["cloud"]["properties"]) == sorted(records.CLOUD_FACTS)


# -- (c) types.ts lists the same fields as openapi.yaml ----------------------------------------------
def _ts_fields(interface: str) -> dict[str, bool]:
    """``{field: optional}`` of a TypeScript interface in types.ts (one field per line, comments skipped)."""
    body = re.search(rf"export interface {interface} \{{\n(.*?)\n\}}", TYPES_TS.read_text(), re.DOTALL)
    assert body, f"types.ts has no interface {interface}"
    return {m[1]: bool(m[2]) for m in re.finditer(r"^  (\w+)(\??):", body[1], re.MULTILINE)}


@pytest.mark.parametrize(("interface", "schema"), [("ITrialRecord", "Trial"), ("IJobSummary", "JobSummary"),
                                                   ("IOwner", "Owner"), ("IActor", "Actor"),
                                                   ("ICampaignSummary", "CampaignSummary")])
def test_types_ts_lists_the_openapi_fields(interface, schema):
    doc, ts = _schema(schema), _ts_fields(interface)
    assert sorted(ts) == sorted(doc["properties"])
    assert [name for name, optional in ts.items() if optional and name in doc["required"]] == []


def test_types_ts_cloud_facts_match_openapi():
    assert sorted(_ts_fields("ICloudFacts")) == sorted(_schema("Trial")["properties"]["cloud"]["properties"])


def test_every_attribute_key_is_described_in_the_store_schema_doc():
    """docs/store.md describes every key records.py defines (a key added without a word there fails here)."""
    source = (REPO / "jupyter_hpo" / "records.py").read_text()
    keys = re.findall(r'^[A-Z][A-Z_]* = "([a-z_]+)"$', source, flags=re.MULTILINE)
    doc = (REPO / "docs" / "store.md").read_text()
    assert len(keys) > 30
    assert [k for k in keys if f"`{k}`" not in doc] == []
