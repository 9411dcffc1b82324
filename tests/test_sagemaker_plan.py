"""``jupyter hpo plan`` / ``api.plan`` / ``%hpo plan`` (issue 11, part 3): the exact requests a spec would
send, validated, without calling AWS; golden files for six realistic specs, compared field by field.

Regenerate the golden files after an intended change with ``JUPYTER_HPO_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo.cli import main
from jupyter_hpo.exceptions import SpecError

GOLDEN = Path(__file__).parent / "golden" / "plan"
SPECS = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


def normalised(result):
    """The plan without what changes from run to run: the training job name's random suffix."""
    text = json.dumps(result, sort_keys=True)
    return json.loads(re.sub(r'("TrainingJobName": "[^"]*-\d{5})-[0-9a-f]{6}"', r'\1-XXXXXX"', text))


def flat(value, path=""):
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{path}[{i}]").items()}
    return {path: value}


@pytest.fixture(autouse=True)
def no_defaults_files(tmp_path, monkeypatch):
    """The golden plans do not depend on this machine's SageMaker defaults files or on Studio."""
    from jupyter_hpo.sagemaker import defaults

    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(tmp_path / "no-admin.yaml"))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "no-user.yaml"))
    monkeypatch.setattr(defaults, "STUDIO_METADATA", tmp_path / "no-studio.json")


@pytest.fixture(autouse=True)
def no_aws(monkeypatch):
    """A plan makes no client: any boto3 client or session raises."""
    import boto3

    def refuse(*args, **kwargs):
        raise AssertionError("a plan must not make an AWS client")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "Session", refuse)


def test_the_six_realistic_specs_are_all_there():
    assert SPECS == ["amt_bayesian", "amt_hyperband", "isolation", "plain", "spot", "vpc_kms"]


@pytest.mark.parametrize("name", SPECS)
def test_the_plan_matches_its_golden_file_field_by_field(name):
    got = normalised(api.plan(GOLDEN / f"{name}.yaml"))
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("JUPYTER_HPO_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(golden.read_text())
    got_fields, want_fields = flat(got), flat(want)
    assert sorted(set(got_fields) - set(want_fields)) == [], "fields the golden plan does not have"
    assert sorted(set(want_fields) - set(got_fields)) == [], "fields the plan lost"
    assert {k: v for k, v in got_fields.items() if want_fields[k] != v} == {}


def test_what_the_golden_plans_promise():
    plans = {name: json.loads((GOLDEN / f"{name}.json").read_text()) for name in SPECS}
    spot = plans["spot"]["requests"][1]["params"]
    assert spot["EnableManagedSpotTraining"] and "KeepAlivePeriodInSeconds" not in spot["ResourceConfig"]
    assert spot["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 7200}
    vpc = plans["vpc_kms"]["requests"]
    assert vpc[0]["params"]["ServerSideEncryption"] == "aws:kms"
    assert vpc[1]["params"]["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:eu-west-1")
    assert vpc[1]["params"]["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]
    bayes = plans["amt_bayesian"]["requests"][1]["params"]["HyperParameterTuningJobConfig"]
    assert bayes["Strategy"] == "Bayesian" and bayes["RandomSeed"] == 0
    hyperband = plans["amt_hyperband"]["requests"][1]["params"]["HyperParameterTuningJobConfig"]
    assert hyperband["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 50}}
    assert hyperband["TrainingJobEarlyStoppingType"] == "Off"


def test_the_cli_prints_the_requests_and_json(capsys):
    assert main(["plan", str(GOLDEN / "plain.yaml")]) == 0
    out = capsys.readouterr().out
    assert "1. PutObject" in out and "2. CreateTrainingJob" in out and '"KeepAlivePeriodInSeconds": 900' in out
    assert main(["plan", str(GOLDEN / "plain.yaml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"][1]["operation"] == "CreateTrainingJob"


def test_the_cli_exits_2_naming_field_limit_and_value(tmp_path, capsys):
    text = (GOLDEN / "plain.yaml").read_text().replace("keep_alive_s: 900", "keep_alive_s: 900\n    tags: {aws:owner: me}")
    spec = tmp_path / "bad.yaml"
    spec.write_text(text.replace("script: src/train.py", f"script: {GOLDEN / 'src' / 'train.py'}"))
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "`backend.options.tags`" in err and "must not start with 'aws:'" in err and "'aws:owner'" in err


def test_the_backend_can_be_overridden_and_local_is_refused():
    assert api.plan(GOLDEN / "plain.yaml", backend="amt")["requests"][1]["operation"] == \
        "CreateHyperParameterTuningJob"
    with pytest.raises(SpecError, match="`backend` must be sagemaker or amt for a plan"):
        api.plan(GOLDEN / "plain.yaml", backend="local")


def test_the_magic_returns_the_plan():
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_hpo.magics import HpoMagics

    ip = InteractiveShell.instance()
    ip.register_magics(HpoMagics(ip))
    result = ip.run_line_magic("hpo", f"plan {GOLDEN / 'amt_bayesian.yaml'} --json")
    assert result["requests"][1]["operation"] == "CreateHyperParameterTuningJob"


@pytest.mark.parametrize(("warm_pool", "keep_alive"), [("{enabled: false}", None), ("{enabled: true}", 900)])
def test_warm_pool_off_leaves_the_keep_alive_out_of_the_request(tmp_path, capsys, warm_pool, keep_alive):
    """The README's `warm_pool: {enabled: false}`: no KeepAlivePeriodInSeconds (no pool, as with 0), not 0 sent."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text((GOLDEN / "src" / "train.py").read_text())
    spec = tmp_path / "plain.yaml"
    spec.write_text((GOLDEN / "plain.yaml").read_text() + f"warm_pool: {warm_pool}\n")
    assert main(["plan", str(spec), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    (create,) = [r for r in plan["requests"] if r["operation"] == "CreateTrainingJob"]
    assert create["params"]["ResourceConfig"].get("KeepAlivePeriodInSeconds") == keep_alive
    said = [n for n in plan["notes"] if n.startswith("`warm_pool.enabled` is false: `backend.options.keep_alive_s`")]
    assert len(said) == (keep_alive is None), "the keep-alive in the spec, unused, is said"
    assert ("KeepAlivePeriodInSeconds" in create["params"]["ResourceConfig"]) is (keep_alive is not None)
