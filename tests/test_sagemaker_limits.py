"""The strict validator (issue 11, part 2): requests that botocore's client accepts but SageMaker would
refuse are refused before they are sent, with one line naming the field, the rule and the value, and
nothing is created in the store."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker import AmtBackend, SageMakerBackend, SageMakerOptions, training_job_request
from jupyter_hpo.sagemaker.limits import RULES, check_request
from jupyter_hpo.spec import TuningSpec

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def spec_dict(tmp_path, *, backend="sagemaker", space=None, hyperparameters=None, objective=None, **options):
    (tmp_path / "src").mkdir(exist_ok=True)
    script = tmp_path / "src" / "train.py"
    script.write_text("print('auc=0.5')\n")
    return {
        "name": "credit-limits",
        "trial": {"script": str(script), "hyperparameters": hyperparameters or {}},
        "space": space or {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "objective": objective or {"metric": "auc", "direction": "maximize"},
        "budget": {"max_trials": 4, "max_parallel": 2},
        "backend": {"name": backend, "options": {"role": ROLE, "image": IMAGE, "s3_prefix": "s3://bkt/hpo",
                                                 "region": "us-east-1", **options}},
    }


def prepare(data):
    spec = TuningSpec.from_dict(data)
    cls = AmtBackend if spec.backend == "amt" else SageMakerBackend
    return cls.prepare(spec)


CASES = {
    "a 4,500-character hyperparameter": (
        {"hyperparameters": {"notes": "x" * 4500}},
        ["`trial.hyperparameters / space`", "HyperParameters.notes", "at most 2500 characters",
         "HyperParameterValue", "a 4500-character value"]),
    "114 hyperparameters": (
        {"hyperparameters": {f"h{i}": i for i in range(110)}},
        ["HyperParameters", "at most 100 entries", "114 entries"]),
    "49 user tags and our 2": (
        {"tags": {f"team{i}": "risk" for i in range(49)}},
        ["`backend.options.tags`", "at most 50 entries", "TagList", "51 entries"]),
    "101 environment variables": (
        {"environment": {f"V{i}": "1" for i in range(101)}},
        ["`backend.options.environment`", "at most 100 entries", "TrainingEnvironmentMap", "101 entries"]),
    "a 601-character metric regex": (
        {"objective": {"metric": "auc", "direction": "maximize", "regex": "auc=([0-9.]+)" + " ?" * 294}},
        ["`objective.metric / objective.regex`", "MetricDefinitions[0].Regex", "at most 500 characters",
         "a 601-character value"]),
    "a tag key starting aws:": (
        {"tags": {"aws:cost-center": "1"}},
        ["Tags[0].Key", "must not start with 'aws:'", "'aws:cost-center'"]),
    "a KMS alias for the training volume": (
        {"volume_kms_key_id": "alias/bank-key"},
        ["`backend.options.volume_kms_key_id`", "ResourceConfig.VolumeKmsKeyId", "key ID or key ARN, not an alias",
         "'alias/bank-key'"]),
    "a volume key on an instance type with local storage": (
        {"volume_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
         "instance_type": "ml.g5.xlarge"},
        ["`backend.options.volume_kms_key_id`", "local (NVMe) storage", "with ml.g5.xlarge"]),
    "an output KMS key that is no key": (  # was blamed on output_path, which the spec did not set
        {"kms_key_id": "bank key 01"},
        ["`backend.options.kms_key_id`", "OutputDataConfig.KmsKeyId", "'bank key 01'"]),
    "an S3 prefix too long for the output path": (
        {"s3_prefix": "s3://bkt/" + "p" * 1100},
        ["`backend.options.s3_prefix / output_path`", "OutputDataConfig.S3OutputPath", "at most 1024 characters"]),
    "an empty tag value": (
        {"tags": {"owner": None}},
        ["`backend.options.tags.owner`", "a text value", "but got None", 'quote it in YAML (owner: "")']),
    "a yes/true environment value": (
        {"environment": {"STRICT_MODE": True}},
        ["`backend.options.environment.STRICT_MODE`", "but got True", 'STRICT_MODE: "true"']),
    "a tag key with a character tags cannot hold": (
        {"tags": {"cost#center": "1"}},
        ["Tags[0].Key", "must match the pattern", "TagKey", "'cost#center'"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_what_aws_would_refuse_is_refused_in_one_line_naming_field_rule_and_value(tmp_path, name):
    options, parts = CASES[name]
    extra = {k: options.pop(k) for k in ("hyperparameters", "objective") if k in options}
    with pytest.raises(SpecError) as e:
        prepare(spec_dict(tmp_path, **extra, **options))
    text = str(e.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, text


def test_amt_refuses_35_ranges_although_each_kind_is_within_30(tmp_path):
    space = {**{f"c{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(20)},
             **{f"i{i}": {"type": "int", "low": 1, "high": 9} for i in range(15)}}
    with pytest.raises(SpecError) as e:
        prepare(spec_dict(tmp_path, backend="amt", space=space))
    assert "at most 30 parameter ranges in total" in str(e.value)
    assert "15 integer + 20 continuous + 0 categorical" in str(e.value)
    assert "`space`" in str(e.value)


def test_a_long_categorical_choice_is_refused_before_any_trial_runs(tmp_path):
    space = {"eta": ["short", "y" * 2600]}  # not the first choice: the sample point alone would pass
    with pytest.raises(SpecError, match=r"HyperParameters.eta\) must be at most 2500 characters"):
        prepare(spec_dict(tmp_path, space=space))


def test_nothing_is_created_in_the_store(home, tmp_path):
    data = spec_dict(tmp_path, tags={"aws:x": "1"}, simulate={})
    with pytest.raises(SpecError, match="must not start with 'aws:'"):
        api.launch(data)
    assert api.list_jobs() == []


def test_every_rule_in_the_table_names_its_source():
    assert all(name and rule and source for name, rule, source in RULES)
    assert len({name for name, _, _ in RULES}) == len(RULES)


def test_a_request_within_the_limits_passes(tmp_path):
    spec = prepare(spec_dict(tmp_path, tags={"team": "credit-risk"}, environment={"OMP_NUM_THREADS": "1"}))
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name="credit-limits-00001-abcdef", params={"eta": 0.1},
                                code_uri=opts.code_uri(spec.name), entry="train.py")
    check_request("CreateTrainingJob", body)


# -- hypothesis: no request that passes the validator breaks a documented limit ---------------------------------
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tags=st.dictionaries(text.filter(bool).map(lambda s: s[:140]), text, max_size=55),
       environment=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True), text, max_size=105),
       hyperparameters=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                                       st.text(max_size=3000), max_size=105))
def test_a_request_that_passes_breaks_no_documented_limit(tmp_path, tags, environment, hyperparameters):
    try:
        spec = TuningSpec.from_dict(spec_dict(tmp_path, tags=tags, environment=environment,
                                              hyperparameters=hyperparameters))
        opts = SageMakerOptions.from_spec(spec)
        body = training_job_request(spec, opts, job_name="credit-limits-00001-abcdef", params={"eta": 0.1},
                                    code_uri=opts.code_uri(spec.name), entry="train.py",
                                    extra_tags={"jupyter-hpo:trial": "1"})
        check_request("CreateTrainingJob", body)
    except SpecError as e:
        assert "\n" not in str(e) and "but got" in str(e)
        return
    assert len(body["Tags"]) <= 50 and len(body["HyperParameters"]) <= 100
    assert len(body.get("Environment", {})) <= 100
    assert all(len(t["Key"]) <= 128 and len(t["Value"]) <= 256 and not t["Key"].lower().startswith("aws:")
               for t in body["Tags"])
    assert all(len(k) <= 256 and len(v) <= 2500 for k, v in body["HyperParameters"].items())
    assert all(len(k) <= 512 and len(v) <= 512 for k, v in body.get("Environment", {}).items())
