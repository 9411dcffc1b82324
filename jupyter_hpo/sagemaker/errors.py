"""AWS errors as jupyter-hpo reports them: an error code, and a message that says what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions

__all__ = ["EXPIRED", "THROTTLING", "error_code", "explain_client_error", "is_transient"]


def explain_client_error(error: Any, opts: SageMakerOptions | None = None) -> str:
    """A user-facing message for a botocore ``ClientError``, with what to do about the common ones."""
    err = getattr(error, "response", {}).get("Error", {})
    code, message = err.get("Code", type(error).__name__), err.get("Message", str(error))
    if code == "ResourceLimitExceeded":
        itype = opts.instance_type if opts else "the instance type"
        hint = (f" With warm pools (keep_alive_s > 0) each trial also needs warm-pool quota, and the default "
                f"quota is 0: in Service Quotas (Amazon SageMaker), request '{itype} for training warm pool "
                f"usage' of at least max_parallel, and enough '{itype} for training job usage'; or lower "
                "budget.max_parallel.")
        return f"ResourceLimitExceeded: {message}.{hint}"
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException",
                "InvalidClientTokenId", "InvalidSignatureException"):
        return f"{code}: {message}. The AWS credentials expired or are not valid: refresh them and resume the job."
    if code in ("AccessDeniedException", "AccessDenied"):
        return f"{code}: {message}. The credentials (or the job's role) lack a SageMaker/S3 permission."
    return f"{code}: {message}"


THROTTLING = frozenset({"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                        "RequestLimitExceeded", "SlowDown", "InternalFailure", "InternalServerError",
                        "ServiceUnavailable", "InternalError"})
EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException",
                     "InvalidClientTokenId"})


def error_code(error: Any) -> str:
    """The AWS error code of a botocore ``ClientError`` ('' for any other exception)."""
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def is_transient(error: Exception) -> bool:
    """Throttling, a 5xx or a dropped connection: worth trying again later."""
    if error_code(error) in THROTTLING:
        return True
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import ReadTimeoutError
    except ImportError:
        return False
    return isinstance(error, (BotoConnectionError, ReadTimeoutError))
