"""docs/sagemaker.md (issue 11, part 9): the user's IAM policy allows exactly the AWS calls the SageMaker
backends make (plus what those calls imply), and the option table covers every option."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import boto3

from jupyter_hpo.sagemaker import SageMakerOptions

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "sagemaker.md").read_text()
#: actions a call implies without a client method of its own: tags on create, passing the role, SSE-KMS
IMPLIED = {"sagemaker:AddTags", "iam:PassRole", "kms:GenerateDataKey"}


def policy(name):
    match = re.search(rf"<!-- policy: {name} -->\s*```json\n(.*?)```", DOC, re.DOTALL)
    assert match, f"no {name} policy in docs/sagemaker.md"
    return json.loads(match.group(1))


def actions(doc):
    out = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"]
        out.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return out


def called_actions():
    """``service:Operation`` of every boto3 client call in jupyter_hpo/sagemaker (the simulator aside)."""
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    services = {"sagemaker": "sagemaker", "logs": "logs", "s3": "s3", "iam": "iam", "ecr": "ecr", "sts": "sts",
                "sq": "service-quotas"}  # the name a client goes by in the code -> its boto3 service
    mapping = {name: session.client(service).meta.method_to_api_mapping for name, service in services.items()}
    prefix = {"sq": "servicequotas"}  # IAM action prefixes that differ from the service's name
    found = set()
    for path in (REPO / "jupyter_hpo" / "sagemaker").glob("*.py"):
        for name, method in re.findall(r"\b(sagemaker|logs|s3|iam|ecr|sts|sq)\.([a-z_]+)\(", path.read_text()):
            assert method in mapping[name], f"{path.name}: {name}.{method} is not a {services[name]} API call"
            found.add(f"{prefix.get(name, name)}:{mapping[name][method]}")
    return found


def test_the_user_policy_allows_exactly_what_the_code_calls():
    called = called_actions()
    assert {"sagemaker:CreateTrainingJob", "s3:PutObject", "logs:GetLogEvents", "iam:SimulatePrincipalPolicy",
            "servicequotas:ListServiceQuotas"} <= called
    allowed = actions(policy("user"))
    assert sorted(called - allowed) == [], "calls the user policy does not allow"
    assert sorted(allowed - called - IMPLIED) == [], "actions the code never calls (not least privilege)"


def test_the_execution_role_policy_is_valid_and_has_what_training_needs():
    allowed = actions(policy("execution-role"))
    assert {"s3:GetObject", "s3:PutObject", "logs:PutLogEvents", "ecr:BatchGetImage", "kms:CreateGrant",
            "ec2:CreateNetworkInterface"} <= allowed
    assert not any(a.endswith(":*") or a == "*" for a in allowed)


def test_the_option_table_names_every_option():
    table = DOC.split("## Every option and the request field it sets", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9_]+)`(?:, `([a-z0-9_]+)`)?", table, re.MULTILINE))
    names = {n for pair in listed for n in pair if n}
    assert sorted({f.name for f in dataclasses.fields(SageMakerOptions)} - names) == []
