"""The estimator's model of a tuning campaign: the real ``sagemaker`` scheduler against the simulated SageMaker.

:func:`simulate_campaign` runs :class:`~jupyter_hpo.sagemaker.scheduler.SageMakerBackend` against
the simulator (through :func:`~jupyter_hpo.sagemaker.clients.simulated_clients`, with a virtual
clock): every request is the one a real job would send (validated against botocore's model),
every status follows the documented lifecycle, and a campaign of hours is simulated in seconds.
:mod:`jupyter_hpo.estimate` runs it with and without warm pools and formats the comparison.
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

from jupyter_hpo.backends import EventLog, TrialRequest
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker.clients import simulated_clients
from jupyter_hpo.sagemaker.options import simulation_defaults
from jupyter_hpo.sagemaker.pricing import cost_usd, price_per_hour
from jupyter_hpo.sagemaker.scheduler import SageMakerBackend
from jupyter_hpo.spec import TuningSpec

__all__ = ["CampaignInputs", "simulate_campaign"]


@dataclasses.dataclass(frozen=True)
class CampaignInputs:
    """A campaign: ``jobs`` tuning jobs one after another, each ``trials`` trials, ``parallel`` at once.

    Training time per trial is log-normal with mean ``training_s`` and coefficient of variation
    ``training_cv``. Start-up is ``cold_startup_s`` on a new instance and ``warm_startup_s`` on a
    warm pool; ``download_s``/``upload_s`` are the data and model transfer phases of every trial.
    """

    jobs: int = 8
    trials: int = 40
    parallel: int = 5
    training_s: float = 60.0
    training_cv: float = 0.2
    cold_startup_s: float = 240.0
    warm_startup_s: float = 5.0
    download_s: float = 10.0
    upload_s: float = 5.0
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    price_per_hour: float | None = None
    keep_alive_s: int = 600
    poll_s: float = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("jobs", "trials", "parallel", "instance_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name}` must be a positive integer, but got {value!r}.")
        for name in ("training_s", "poll_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise SpecError(f"`{name}` must be a positive number of seconds, but got {value!r}.")
        for name in ("training_cv", "cold_startup_s", "warm_startup_s", "download_s", "upload_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise SpecError(f"`{name}` must be a number >= 0, but got {value!r}.")
        if self.price_per_hour is not None and (not isinstance(self.price_per_hour, (int, float))
                                                or not 0 <= self.price_per_hour < math.inf):
            raise SpecError(f"`price_per_hour` must be a number >= 0, but got {self.price_per_hour!r}.")
        if isinstance(self.keep_alive_s, bool) or not isinstance(self.keep_alive_s, int) \
                or not 1 <= self.keep_alive_s <= 3600:
            raise SpecError(f"`keep_alive_s` must be an integer from 1 to 3600, but got {self.keep_alive_s!r}.")


def _training_time(inputs: CampaignInputs) -> Any:
    if inputs.training_cv == 0:
        return float(inputs.training_s)
    sigma = math.sqrt(math.log(1 + inputs.training_cv ** 2))
    mu = math.log(inputs.training_s) - sigma ** 2 / 2

    def sample(rng: random.Random, _hyperparameters: dict[str, str]) -> float:
        return max(1.0, rng.lognormvariate(mu, sigma))

    return sample


def simulate_campaign(inputs: CampaignInputs, *, warm: bool, workdir: Path) -> dict[str, Any]:
    """Run the campaign on the simulated SageMaker with a virtual clock, with or without warm pools.

    Returns ``wall_s``, ``billable_s``, ``retained_s``, ``cost_usd``, ``trials``, ``failed_trials``,
    ``warm_starts``, ``mean_startup_s``, ``price_per_hour``, ``notes`` and ``requests``.
    """
    clients = simulated_clients({
        "cold_startup_s": inputs.cold_startup_s, "warm_startup_s": inputs.warm_startup_s,
        "download_s": inputs.download_s, "upload_s": inputs.upload_s, "training_s": _training_time(inputs),
        "executor": "model", "seed": inputs.seed, "s3_root": str(workdir / ("s3-warm" if warm else "s3-cold"))},
        virtual=True)
    clock, sim = clients.clock, clients.sim
    (workdir / "src").mkdir(exist_ok=True)
    script = workdir / "src" / "train.py"
    script.write_text("print('objective=1')\n")
    prices = {inputs.instance_type: inputs.price_per_hour} if inputs.price_per_hour is not None else {}
    rng = random.Random(inputs.seed)
    start = clock.now()
    trials: list[Any] = []
    notes: list[str] = []
    summaries = []
    try:
        for j in range(inputs.jobs):
            spec = TuningSpec.from_dict({
                "name": f"campaign-{j + 1}",
                "trial": {"script": str(script)},
                "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
                "budget": {"max_trials": inputs.trials, "max_parallel": inputs.parallel},
                "warm_pool": {"enabled": warm},
                "backend": {"name": "sagemaker", "options": simulation_defaults({
                    "simulate": {}, "instance_type": inputs.instance_type, "instance_count": inputs.instance_count,
                    "keep_alive_s": inputs.keep_alive_s, "poll_s": inputs.poll_s, "prices": prices})},
            })
            backend = SageMakerBackend(spec, workdir, clients=clients)
            backend.start()
            tally = EventLog()  # what the scheduler reports; the runner's part here
            submitted = 0
            while len(tally.outcomes) < inputs.trials:
                while backend.free_slots() > 0 and submitted < inputs.trials:
                    backend.submit(TrialRequest(key=submitted, params={"x": rng.random()}))
                    submitted += 1
                backend.poll(tally, timeout=inputs.poll_s)
            backend.close()
            trials.extend(tally.outcomes)
            notes.extend(tally.notes)
            summaries.append(backend.summary())
    finally:
        close = getattr(sim, "close", None)
        if close is not None:
            close()
    wall = clock.now() - start
    price = price_per_hour(inputs.instance_type, prices)
    billable = sum(s["billable_s"] for s in summaries)
    retained = sum(s["retained_billable_s"] for s in summaries)
    startups = [t.startup_s for t in trials if t.startup_s is not None]
    failed = [t for t in trials if t.state != "complete"]
    return {
        "wall_s": wall,
        "billable_s": billable * inputs.instance_count,
        "retained_s": retained * inputs.instance_count,
        "cost_usd": (cost_usd(billable + retained, inputs.instance_count, price) if price is not None else None),
        "trials": len(trials),
        "failed_trials": len(failed),
        "warm_starts": sum(1 for t in trials if t.attrs.get("warm")),
        "mean_startup_s": sum(startups) / len(startups) if startups else None,
        "price_per_hour": price,
        "notes": notes,
        "requests": len(sim.calls),
    }
