"""What will a tuning campaign on SageMaker take and cost: without warm pools, with pools per job, and with
pools kept across the campaign's jobs?

:func:`estimate` runs the real ``sagemaker`` scheduler against the simulated SageMaker with a
virtual clock (the campaign model, :mod:`jupyter_hpo.sagemaker.estimator`): every request is the
one a real job would send (validated against botocore's model), every status follows the
documented lifecycle, billing starts at each training job's start (a cold start's image pull included),
and a campaign of hours is simulated in seconds. The same campaign runs three times (see
:data:`~jupyter_hpo.sagemaker.estimator.ARMS`): with ``KeepAlivePeriodInSeconds = 0`` (every trial cold),
with warm pools that each job releases at its end, and with warm pools handed from job to job; with
``keep_alive_s=0`` (a spec without warm pools) only the first.

Example:
    >>> from jupyter_hpo.estimate import estimate
    >>> r = estimate(jobs=2, trials=6, parallel=2, training_s=60)
    >>> r["speedup"]["campaign"] > r["speedup"]["job"] > 1.5
    True
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from jupyter_hpo.sagemaker.estimator import AMT_ARMS, ARMS, CampaignInputs, simulate_amt_campaign, simulate_campaign

__all__ = ["AMT_ARMS", "ARMS", "COLUMNS", "CampaignInputs", "estimate", "format_estimate"]


def estimate(inputs: CampaignInputs | None = None, **kwargs: Any) -> dict[str, Any]:
    """Simulate the campaign three ways; see :class:`CampaignInputs` for ``kwargs``.

    Returns ``{"inputs", "arms", "speedup", "cost_ratio"}``: ``arms`` maps each of ``none``, ``job`` and
    ``campaign`` to what :func:`~jupyter_hpo.sagemaker.estimator.simulate_campaign` returns (``wall_s``,
    ``billable_s``, ``retained_s``, ``cost_usd``, ``warm_starts``, ``iteration_s``, ``wave_s``, ...);
    ``speedup`` is each arm's wall time against ``none`` and ``cost_ratio`` its cost against ``none``.
    """
    if inputs is None:
        inputs = CampaignInputs(**kwargs)
    elif kwargs:
        inputs = dataclasses.replace(inputs, **kwargs)
    with tempfile.TemporaryDirectory(prefix="jupyter-hpo-estimate-") as tmp:
        if inputs.backend == "amt":
            arms = {name: simulate_amt_campaign(inputs, reuse=name == "amt", workdir=Path(tmp)) for name in AMT_ARMS}
        else:  # keep-alive 0 (a spec without warm pools): the campaign as it would run, not pools it would not keep
            arms = {name: simulate_campaign(inputs, pools=name, workdir=Path(tmp))
                    for name in (ARMS if inputs.keep_alive_s else ("none",))}
            if not inputs.keep_alive_s:
                arms["none"]["notes"].append("keep-alive 0: no warm pools, so only this way is estimated; give a "
                                             "keep-alive (--keep-alive-s) to compare it with warm pools")
    base = next(iter(arms))

    def ratio(key: str, name: str, invert: bool = False) -> float | None:
        a, b = arms[base].get(key), arms[name].get(key)
        if invert:
            a, b = b, a
        return round(a / b, 3) if a and b else None

    return {"inputs": dataclasses.asdict(inputs), "arms": arms,
            "speedup": {name: ratio("wall_s", name) for name in arms},
            "cost_ratio": {name: ratio("cost_usd", name, invert=True) for name in arms}}


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


#: the column heads of :func:`format_estimate`, one per arm
COLUMNS = {"none": "no warm pools", "job": "pools per job", "campaign": "pools across jobs",
           "amt-cold": "AMT, no instance reuse", "amt": "AMT reusing its instances"}


def format_estimate(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """Rows ``(what, <one column per arm>)`` of an :func:`estimate` result (:data:`COLUMNS` names the arms)."""
    arms, i = result["arms"], result["inputs"]

    def money(v: float | None) -> str:
        return "-" if v is None else f"${v:,.2f}"

    def each(fn: Any) -> tuple[str, ...]:
        return tuple(fn(arms[name], name) for name in arms)

    about = [f"{i['jobs']} jobs x {i['trials']} trials, {i['parallel']} at once",
             f"{i['instance_count']} x {i['instance_type']}", f"keep-alive {i['keep_alive_s']} s"]
    return [
        ("campaign", *(about[:len(arms)] if i["backend"] != "amt" else about[:2])),
        ("wall time", *each(lambda a, _: _hours(a["wall_s"]))),
        ("time per wave of trials", *each(lambda a, _: _hours(a["wave_s"]))),
        ("iteration (proposal -> result), cold start", *each(lambda a, _: _hours(a["iteration_s"]["cold"]))),
        ("iteration (proposal -> result), warm start", *each(lambda a, _: _hours(a["iteration_s"]["warm"]))),
        ("mean start-up per trial", *each(lambda a, _: f"{a['mean_startup_s']:.0f} s"
                                          if a["mean_startup_s"] is not None else "-")),
        ("trials started warm", *each(lambda a, _: f"{a['warm_starts']}/{a['trials']}")),
        ("  of them on an earlier job's pool", *each(lambda a, _: str(a["warm_starts_across_jobs"]))),
        ("failed trials", *each(lambda a, _: str(a["failed_trials"]))),
        ("billable training time (image pulls included)", *each(lambda a, _: _hours(a["billable_s"]))),
        ("idle time kept warm", *each(lambda a, _: _hours(a["retained_s"]))),
        ("cost", *each(lambda a, _: money(a["cost_usd"]))),
        ("wall-time speed-up", *each(lambda _, n: f"{result['speedup'][n]:.2f}x" if result["speedup"][n] else "-")),
    ]
