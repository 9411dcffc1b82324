"""``jupyter hpo doctor [SPEC]``: a preflight of the AWS account for a SageMaker spec, each check ok / warn /
fail with one line saying why and what to do.

Checks, in order: credentials and region (STS ``GetCallerIdentity``); the spec's requests (everything
``plan`` checks: options, spot vs keep-alive, isolation, the strict limits); ``iam:PassRole`` on the role
(a dry ``iam:SimulatePrincipalPolicy``, where the caller may run it); the bucket (a small write under the
job's prefix, SSE-KMS when ``kms_key_id`` is set); the image (ECR, when it is in the caller's account); the
warm-pool and training-instance quotas of the instance type (Service Quotas, service code ``sagemaker``).
A check that cannot run for lack of permission warns rather than fails.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import HpoError
from jupyter_hpo.sagemaker.errors import error_code, explain_client_error

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = ["Check", "doctor", "format_checks"]

_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
_IMAGE = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?")


@dataclass
class Check:
    """One preflight check: its name, ``ok``, ``warn`` or ``fail``, and one line of reason."""

    name: str
    status: str
    reason: str


def doctor(spec: TuningSpec | None = None, clients: dict[str, Any] | None = None,
           region: str | None = None, profile: str | None = None) -> list[Check]:
    """Run the checks (only credentials without a spec); ``clients`` maps service names to boto3 clients
    (tests); by default they are made from the spec's region and profile."""
    checks: list[Check] = []
    opts = None
    if spec is not None:
        from jupyter_hpo.sagemaker.options import SageMakerOptions
        from jupyter_hpo.sagemaker.plan import plan

        try:
            plan(spec)
            opts = SageMakerOptions.from_spec(spec)
        except HpoError as e:
            checks.append(Check("spec", "fail", str(e)))
        else:
            checks.append(Check("spec", "ok", "every request passes the checks SageMaker would make"))
            region, profile = opts.region or region, opts.profile or profile
    made = clients if clients is not None else _clients(region, profile, checks)
    if made is None:
        return checks
    caller = _caller(made, checks)
    if caller is None or opts is None:
        return checks
    checks.append(_pass_role(made["iam"], caller, opts))
    checks.append(_bucket(made["s3"], spec, opts))
    checks.append(_image(made.get("ecr"), caller, opts))
    checks.extend(_quotas(made["service-quotas"], spec, opts))
    return checks


def _clients(region: str | None, profile: str | None, checks: list[Check]) -> dict[str, Any] | None:
    try:
        import boto3

        session = boto3.Session(profile_name=profile, region_name=region)
    except Exception as e:  # noqa: BLE001 - ImportError, ProfileNotFound...
        checks.append(Check("credentials", "fail", f"no AWS session: {e}"))
        return None
    if not session.region_name:
        checks.append(Check("credentials", "fail", "no AWS region: set backend.options.region or AWS_DEFAULT_REGION"))
        return None
    return {name: session.client(name) for name in ("sts", "iam", "s3", "ecr", "service-quotas")}


def _caller(clients: dict[str, Any], checks: list[Check]) -> dict[str, str] | None:
    try:
        sts = clients["sts"]
        who = sts.get_caller_identity()
    except Exception as e:  # noqa: BLE001 - NoCredentialsError, expired tokens...
        checks.append(Check("credentials", "fail", f"{explain_client_error(e)} (aws configure, AWS_PROFILE or "
                                                   "an instance role)"))
        return None
    region = clients["sts"].meta.region_name
    checks.append(Check("credentials", "ok", f"account {who['Account']} as {who['Arn']} in {region}"))
    return {"account": who["Account"], "arn": _principal(who["Arn"])}


def _principal(arn: str) -> str:
    """The IAM role behind an assumed-role session ARN (what SimulatePrincipalPolicy takes)."""
    m = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", arn)
    return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else arn


def _pass_role(iam: Any, caller: dict[str, str], opts: SageMakerOptions) -> Check:
    try:
        result = iam.simulate_principal_policy(PolicySourceArn=caller["arn"], ActionNames=["iam:PassRole"],
                                               ResourceArns=[opts.role],
                                               ContextEntries=[{"ContextKeyName": "iam:PassedToService",
                                                                "ContextKeyValues": ["sagemaker.amazonaws.com"],
                                                                "ContextKeyType": "string"}])
    except Exception as e:  # noqa: BLE001
        if error_code(e) in _DENIED:
            return Check("role", "warn", f"cannot check iam:PassRole on {opts.role} (the caller may not run "
                                         "iam:SimulatePrincipalPolicy); a launch fails at once if it is missing")
        return Check("role", "fail", f"iam:SimulatePrincipalPolicy failed: {explain_client_error(e)}")
    decision = (result.get("EvaluationResults") or [{}])[0].get("EvalDecision", "implicitDeny")
    if decision == "allowed":
        return Check("role", "ok", f"{caller['arn']} may pass {opts.role} to SageMaker")
    return Check("role", "fail", f"iam:PassRole on {opts.role} is {decision} for {caller['arn']}: add it to the "
                                 "user's policy (docs/sagemaker.md) with iam:PassedToService sagemaker.amazonaws.com")


def _bucket(s3: Any, spec: TuningSpec, opts: SageMakerOptions) -> Check:
    from jupyter_hpo.sagemaker.options import split_s3

    bucket, key = split_s3(opts.code_uri(spec.name).rsplit("/", 2)[0] + "/doctor-write-check")
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"jupyter-hpo doctor\n", **opts.upload_encryption())
    except Exception as e:  # noqa: BLE001
        kms = f" with SSE-KMS key {opts.kms_key_id} (kms:GenerateDataKey?)" if opts.kms_key_id else \
            " (a bucket policy requiring encryption needs backend.options.kms_key_id)"
        return Check("bucket", "fail", f"cannot write s3://{bucket}/{key}{kms}: {explain_client_error(e)}")
    how = f"with SSE-KMS ({opts.kms_key_id})" if opts.kms_key_id else "unencrypted by jupyter-hpo"
    return Check("bucket", "ok", f"wrote s3://{bucket}/{key} {how}")


def _image(ecr: Any, caller: dict[str, str], opts: SageMakerOptions) -> Check:
    m = _IMAGE.fullmatch(opts.image or "")
    if m is None:
        return Check("image", "warn", f"not an ECR image URI, not checked: {opts.image or opts.framework}")
    account, _, repo, tag = m.groups()
    if account != caller["account"] or ecr is None:
        return Check("image", "ok", f"{opts.image} is in account {account} (an AWS or shared image): not checked")
    try:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag or "latest"}])
    except Exception as e:  # noqa: BLE001
        if error_code(e) in _DENIED:
            return Check("image", "warn", f"cannot check {opts.image} (no ecr:DescribeImages)")
        return Check("image", "fail", f"{opts.image}: {explain_client_error(e)}")
    return Check("image", "ok", f"{opts.image} exists")


def _quotas(sq: Any, spec: TuningSpec, opts: SageMakerOptions) -> list[Check]:
    try:
        quotas = _sagemaker_quotas(sq, opts.instance_type)
    except Exception as e:  # noqa: BLE001
        status = "warn" if error_code(e) in _DENIED else "fail"
        return [Check("quotas", status, f"cannot read Service Quotas (servicequotas:ListServiceQuotas): "
                                        f"{explain_client_error(e)}")]
    out = []
    need = spec.budget.max_parallel * opts.instance_count
    # spot trials count against their own quota; matching a substring took either one, by listing order
    name = f"{opts.instance_type} for {'spot ' if opts.spot else ''}training job usage"
    training = quotas.get(name.lower())
    if training is None:
        out.append(Check("instance quota", "warn", f"no quota '{name}' found in Service Quotas (Amazon SageMaker)"))
    elif training < need:
        out.append(Check("instance quota", "fail", f"'{name}' is {training:g}, below budget.max_parallel x "
                                                   f"instance_count = {need}: request more in Service Quotas or "
                                                   "lower budget.max_parallel"))
    else:
        out.append(Check("instance quota", "ok", f"{training:g} of '{name}' (need {need})"))
    if spec.backend == "sagemaker" and spec.warm_pool.enabled and opts.keep_alive_s:
        warm = next((v for n, v in quotas.items() if "warm pool" in n), 0.0)
        if warm < need:
            out.append(Check("warm-pool quota", "warn",
                             f"'{opts.instance_type} for training warm pool usage' is {warm:g} (need {need}): "
                             f"{'no trial' if warm == 0 else 'not every trial'} will start warm; request it in "
                             "Service Quotas (Amazon SageMaker)"))
        else:
            out.append(Check("warm-pool quota", "ok", f"{warm:g} warm pools of {opts.instance_type} (need {need})"))
    return out


def _sagemaker_quotas(sq: Any, instance_type: str) -> dict[str, float]:
    """``{lower-case quota name: value}`` of the SageMaker quotas that name ``instance_type``."""
    out: dict[str, float] = {}
    kwargs: dict[str, Any] = {"ServiceCode": "sagemaker", "MaxResults": 100}
    for _ in range(100):
        page = sq.list_service_quotas(**kwargs)
        for q in page.get("Quotas", []):
            name = q.get("QuotaName", "")
            if name.lower().startswith(f"{instance_type} "):
                out[name.lower()] = float(q.get("Value", 0))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return out


def format_checks(checks: list[Check]) -> str:
    """One line per check: ``[ok]   name: reason``."""
    return "\n".join(f"[{c.status}]{' ' * (5 - len(c.status))}{c.name}: {c.reason}" for c in checks)


def doctor_command(args: Any) -> int:
    """``jupyter hpo doctor [SPEC] [--json]``: 0 when nothing fails, 1 otherwise."""
    from jupyter_hpo.records import dumps
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_file(args.spec) if args.spec else None
    if spec is not None:
        from jupyter_hpo.sagemaker.defaults import with_defaults

        spec = with_defaults(spec)[0]
    checks = doctor(spec, region=args.region, profile=args.profile)
    print(dumps([asdict(c) for c in checks]) if args.json else format_checks(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0


def add_doctor_parser(sub: Any) -> None:
    """Register ``jupyter hpo doctor`` on the CLI's subparsers."""
    p = sub.add_parser("doctor", help="preflight: credentials, role, bucket, image and quotas for a SageMaker "
                                      "spec (ok / warn / fail, one line each)")
    p.add_argument("spec", nargs="?", help="path of the YAML spec (without it: credentials only)")
    p.add_argument("--region", help="AWS region (default: the spec's, then the AWS configuration's)")
    p.add_argument("--profile", help="AWS profile")
    p.add_argument("--json", action="store_true")
