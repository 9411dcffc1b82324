"""The estimator's model of a tuning campaign: the real ``sagemaker`` scheduler against the simulated SageMaker.

:func:`simulate_campaign` runs :class:`~jupyter_hpo.sagemaker.scheduler.SageMakerBackend` against
the simulator (through :func:`~jupyter_hpo.sagemaker.clients.simulated_clients`, with a virtual
clock): every request is the one a real job would send (validated against botocore's model),
every status follows the documented lifecycle, and a campaign of hours is simulated in seconds.
:mod:`jupyter_hpo.estimate` runs it without warm pools, with pools per job and with pools kept across the
campaign's jobs, and formats the comparison.
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

from jupyter_hpo._limits import SIM_MAX_DURATION_S
from jupyter_hpo.exceptions import SpecError

#: the most status polls an estimate's simulation may take (about a minute on 2 cores)
MAX_POLLS = 50_000

__all__ = ["AMT_ARMS", "ARMS", "BACKENDS", "CampaignInputs", "simulate_amt_campaign", "simulate_campaign"]


#: The three ways a campaign can run with the ``sagemaker`` backend, compared side by side by the estimator.
ARMS = {
    "none": "no warm pools (every trial starts on new instances)",
    "job": "warm pools per job (each job releases its pools at its end, as a single job does)",
    "campaign": "warm pools kept across the campaign's jobs (a job hands its pools to the next)",
}
#: The two ways compared for the ``amt`` backend (SageMaker Automatic Model Tuning).
AMT_ARMS = {
    "amt-cold": "AMT without reusing instances (as before August 2022: every trial on new instances)",
    "amt": "AMT reusing each tuning job's instances from one trial to the next (its default since August 2022)",
}
BACKENDS = ("sagemaker", "amt")


@dataclasses.dataclass(frozen=True)
class CampaignInputs:
    """A campaign: ``jobs`` tuning jobs one after another, each ``trials`` trials, ``parallel`` at once.

    Training time per trial is log-normal with mean ``training_s`` and coefficient of variation
    ``training_cv``. Start-up on new instances is ``cold_startup_s`` of provisioning (not billed) and then
    ``image_pull_s`` of image download, which comes after the training start and so is billed; on a warm
    pool it is ``warm_startup_s`` (the image is already on it). ``download_s``/``upload_s`` are the data
    and model transfers of every trial. ``proposal_s`` is the optimizer's time to propose a trial (one at a
    time). ``keep_alive_s`` 0 is a campaign without warm pools (only that way is simulated). ``warm_pool_quota``
    (warm pools per instance type) and ``instance_quota`` (training instances of
    the type at once, warm pools included) are the account's quotas; None: no limit. A trial refused by the
    instance quota (ResourceLimitExceeded) waits and the scheduler goes on with fewer pools, as in a real run.

    The defaults are the motivating case's (about 5 minutes per cold iteration with a minute of training,
    seconds warm); no AWS page publishes start-up phase durations, so split them by your own jobs'
    ``SecondaryStatusTransitions`` (``jupyter hpo show`` of a finished SageMaker job lists them per trial).
    """

    jobs: int = 8
    trials: int = 40
    parallel: int = 5
    training_s: float = 60.0
    training_cv: float = 0.2
    cold_startup_s: float = 180.0
    image_pull_s: float = 60.0
    warm_startup_s: float = 5.0
    download_s: float = 10.0
    upload_s: float = 5.0
    proposal_s: float = 0.0
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    price_per_hour: float | None = None
    keep_alive_s: int = 600
    warm_pool_quota: int | None = None
    instance_quota: int | None = None
    poll_s: float = 15.0
    seed: int = 0
    backend: str = "sagemaker"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SpecError(f"`backend` must be one of {', '.join(BACKENDS)}, but got {self.backend!r}.")
        if self.backend == "amt":
            for name, why in (("proposal_s", "AMT proposes its trials itself, and how long it takes is not modelled"),
                              ("warm_pool_quota", "AMT keeps no warm pools")):
                if getattr(self, name) not in (None, 0, 0.0):
                    raise SpecError(f"`{name}` does not apply to the amt backend ({why}); leave it out.")
        for name in ("jobs", "trials", "parallel", "instance_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name}` must be a positive integer, but got {value!r}.")
        # durations as the simulator takes them (28 days at most: `proposal_s 1e12` ran its clock past year 9999
        # and crashed), and a poll of a second at least
        for name, low, words in (("training_s", 0.0, "above 0"), ("poll_s", 1.0, "from 1")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= SIM_MAX_DURATION_S \
                    or value < low:
                raise SpecError(f"`{name}` must be a number of seconds {words} to {SIM_MAX_DURATION_S:,} (28 days), "
                                f"but got {value!r}.")
        if isinstance(self.training_cv, bool) or not isinstance(self.training_cv, (int, float)) \
                or not 0 <= self.training_cv < math.inf:
            raise SpecError(f"`training_cv` must be a number >= 0, but got {self.training_cv!r}.")
        for name in ("cold_startup_s", "image_pull_s", "warm_startup_s", "download_s", "upload_s", "proposal_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= SIM_MAX_DURATION_S:
                raise SpecError(f"`{name}` must be a number of seconds from 0 to {SIM_MAX_DURATION_S:,} (28 days), "
                                f"but got {value!r}.")
        if self.price_per_hour is not None and (not isinstance(self.price_per_hour, (int, float))
                                                or not 0 <= self.price_per_hour < math.inf):
            raise SpecError(f"`price_per_hour` must be a number >= 0, but got {self.price_per_hour!r}.")
        if isinstance(self.keep_alive_s, bool) or not isinstance(self.keep_alive_s, int) \
                or not 0 <= self.keep_alive_s <= 3600:
            raise SpecError(f"`keep_alive_s` must be an integer from 0 to 3600 (0: no warm pools), but got "
                            f"{self.keep_alive_s!r}.")
        for name in ("warm_pool_quota", "instance_quota"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise SpecError(f"`{name}` must be an integer >= 0 (or left out: no limit), but got {value!r}.")
        polls = self.polls()
        if polls > MAX_POLLS:  # the simulation runs poll by poll: 1e9 s of start-up at 15 s never ended
            raise SpecError(f"this campaign would take the simulated scheduler about {polls:,.0f} status polls "
                            f"(at most {MAX_POLLS:,}: minutes of simulation); give a larger `poll_s` or "
                            "fewer or shorter trials.")

    def polls(self) -> float:
        """About how many status polls simulating the campaign takes (each wave's slowest trial, polled every
        ``poll_s``): the simulation's own cost, some milliseconds each."""
        waves = self.jobs * math.ceil(self.trials / self.parallel)
        wave_s = (self.cold_startup_s + self.image_pull_s + self.training_s * (1 + 3 * self.training_cv)
                  + self.download_s + self.upload_s + self.proposal_s * self.parallel)
        return waves * wave_s / self.poll_s


def _training_time(inputs: CampaignInputs) -> Any:
    if inputs.training_cv == 0:
        return float(inputs.training_s)
    sigma = math.sqrt(math.log(1 + inputs.training_cv ** 2))
    mu = math.log(inputs.training_s) - sigma ** 2 / 2

    def sample(rng: random.Random, _hyperparameters: dict[str, str]) -> float:
        return max(1.0, rng.lognormvariate(mu, sigma))

    return sample


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def simulate_campaign(inputs: CampaignInputs, *, pools: str, workdir: Path) -> dict[str, Any]:
    """Run the campaign on the simulated SageMaker with a virtual clock, its warm pools as ``pools`` says
    (a key of :data:`ARMS`).

    Returns ``wall_s``, ``billable_s``, ``retained_s``, ``cost_usd``, ``trials``, ``failed_trials``,
    ``warm_starts``, ``warm_starts_across_jobs`` (on a pool an earlier job left), ``mean_startup_s``,
    ``iteration_s`` (mean time from a trial's proposal to its result, over all trials and split
    ``cold``/``warm`` by how each started), ``wave_s`` (a job's wall time per wave of ``parallel`` trials),
    ``price_per_hour``, ``notes`` and ``requests``.
    """
    from jupyter_hpo.backends import EventLog, TrialRequest
    from jupyter_hpo.sagemaker.clients import simulated_clients
    from jupyter_hpo.sagemaker.options import MAX_RUN_S, simulation_defaults
    from jupyter_hpo.sagemaker.pricing import cost_usd, price_per_hour
    from jupyter_hpo.sagemaker.requests import seeded_names
    from jupyter_hpo.sagemaker.scheduler import SageMakerBackend
    from jupyter_hpo.spec import TuningSpec

    if pools not in ARMS:
        raise SpecError(f"`pools` must be one of {', '.join(ARMS)}, but got {pools!r}.")
    warm = pools != "none"
    clients = simulated_clients({
        "cold_startup_s": inputs.cold_startup_s, "warm_startup_s": inputs.warm_startup_s,
        "image_pull_s": inputs.image_pull_s, "download_s": inputs.download_s, "upload_s": inputs.upload_s,
        "training_s": _training_time(inputs), "warm_pool_quota": inputs.warm_pool_quota,
        "instance_limit": inputs.instance_quota, "executor": "model", "seed": inputs.seed,
        "s3_root": str(workdir / f"s3-{pools}")}, virtual=True)
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
    turnaround: dict[str, list[float]] = {"cold": [], "warm": []}
    job_walls: list[float] = []
    across = 0
    earlier_jobs: set[str] = set()
    handed_on: list[str] = []
    try:
        with seeded_names(inputs.seed):  # the same names, so the same draws, run after run
            for j in range(inputs.jobs):
                name = f"campaign-{j + 1}"
                spec = TuningSpec.from_dict({
                    "name": name,
                    "trial": {"script": str(script)},
                    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
                    "budget": {"max_trials": inputs.trials, "max_parallel": inputs.parallel},
                    "warm_pool": {"enabled": warm},
                    "backend": {"name": "sagemaker", "options": simulation_defaults({
                        "simulate": {}, "instance_type": inputs.instance_type, "instance_count": inputs.instance_count,
                        "keep_alive_s": inputs.keep_alive_s, "poll_s": inputs.poll_s, "prices": prices,
                        "max_run_s": MAX_RUN_S})},  # every trial runs to its end (at 3600 s, trials of 2 h failed)
                })
                backend = SageMakerBackend(spec, workdir, clients=clients)
                backend.inherit(handed_on)
                backend.start()
                tally = EventLog()  # what the scheduler reports; the runner's part here
                proposed: dict[int, float] = {}
                seen = 0
                job_start = clock.now()
                while len(tally.outcomes) < inputs.trials:
                    while backend.free_slots() > 0 and len(proposed) < inputs.trials:
                        if inputs.proposal_s:
                            clock.sleep(inputs.proposal_s)
                        proposed[len(proposed)] = clock.now()
                        backend.submit(TrialRequest(key=len(proposed) - 1, params={"x": rng.random()}))
                    backend.poll(tally, timeout=inputs.poll_s)
                    for outcome in tally.outcomes[seen:]:
                        kind = "warm" if outcome.attrs.get("warm") else "cold"
                        turnaround[kind].append(clock.now() - proposed[outcome.key])
                        reused = str((outcome.attrs.get("sagemaker") or {}).get("reused_pool_of") or "")
                        across += any(reused.startswith(f"{e}-") for e in earlier_jobs)
                    seen = len(tally.outcomes)
                job_walls.append(clock.now() - job_start)
                backend.close(release=pools != "campaign" or j == inputs.jobs - 1)
                handed_on = backend.handed_on
                earlier_jobs.add(name)
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
    waves = math.ceil(inputs.trials / inputs.parallel)
    return {
        "pools": pools,
        "wall_s": wall,
        "billable_s": billable * inputs.instance_count,
        "retained_s": retained * inputs.instance_count,
        "cost_usd": (cost_usd(billable + retained, inputs.instance_count, price) if price is not None else None),
        "trials": len(trials),
        "failed_trials": len(failed),
        "warm_starts": sum(1 for t in trials if t.attrs.get("warm")),
        "warm_starts_across_jobs": across,
        "mean_startup_s": _mean(startups),
        "iteration_s": {"all": _mean(turnaround["cold"] + turnaround["warm"]), "cold": _mean(turnaround["cold"]),
                        "warm": _mean(turnaround["warm"])},
        "wave_s": _mean([w / waves for w in job_walls]),
        "price_per_hour": price,
        "notes": list(dict.fromkeys(notes)),
        "requests": len(sim.calls),
    }


def simulate_amt_campaign(inputs: CampaignInputs, *, reuse: bool, workdir: Path) -> dict[str, Any]:
    """Run the campaign as SageMaker AMT tuning jobs, one after another, on the simulated SageMaker with a
    virtual clock: each job's ``CreateHyperParameterTuningJob`` is the one the ``amt`` backend sends
    (validated against botocore's model), polled every ``poll_s`` until it ends. ``reuse``: AMT reuses a tuning
    job's instances between its trials. Returns the same figures as :func:`simulate_campaign`
    (``warm_starts_across_jobs`` is 0: AMT keeps nothing across tuning jobs; ``retained_s`` 0: not billed).
    """
    from jupyter_hpo.sagemaker.amt import AMT_WARM_STARTING_MAX_S
    from jupyter_hpo.sagemaker.clients import simulated_clients
    from jupyter_hpo.sagemaker.options import MAX_RUN_S, SageMakerOptions, simulation_defaults
    from jupyter_hpo.sagemaker.outcome import phase_seconds, startup_seconds
    from jupyter_hpo.sagemaker.pricing import cost_usd, price_per_hour
    from jupyter_hpo.sagemaker.requests import validate_request
    from jupyter_hpo.sagemaker.tuning import tuning_job_request
    from jupyter_hpo.spec import TuningSpec

    clients = simulated_clients({
        "cold_startup_s": inputs.cold_startup_s, "warm_startup_s": inputs.warm_startup_s,
        "image_pull_s": inputs.image_pull_s, "download_s": inputs.download_s, "upload_s": inputs.upload_s,
        "training_s": _training_time(inputs), "instance_limit": inputs.instance_quota, "amt_reuse": reuse,
        "executor": "model", "seed": inputs.seed, "s3_root": str(workdir / f"s3-amt-{reuse}")}, virtual=True)
    clock, sim, sm = clients.clock, clients.sim, clients.sagemaker
    prices = {inputs.instance_type: inputs.price_per_hour} if inputs.price_per_hour is not None else {}
    (workdir / "train.py").write_text("print('objective=1')\n")
    start = clock.now()
    described: list[dict[str, Any]] = []
    job_walls: list[float] = []
    try:
        for j in range(inputs.jobs):
            name = f"campaign-{j + 1}"
            spec = TuningSpec.from_dict({
                "name": name, "trial": {"script": str(workdir / "train.py")},
                "objective": {"metric": "objective", "direction": "maximize"},
                "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "strategy": "random",
                "budget": {"max_trials": inputs.trials, "max_parallel": inputs.parallel},
                "backend": {"name": "amt", "options": simulation_defaults({
                    "simulate": {}, "instance_type": inputs.instance_type, "instance_count": inputs.instance_count,
                    "poll_s": inputs.poll_s, "max_run_s": MAX_RUN_S})}})
            request = tuning_job_request(spec, SageMakerOptions.from_spec(spec), tuning_job_name=name,
                                         code_uri=f"s3://jupyter-hpo-simulated/jobs/{name}/sourcedir.tar.gz",
                                         entry="train.py")
            validate_request("CreateHyperParameterTuningJob", request)
            job_start = clock.now()
            sm.create_hyper_parameter_tuning_job(**request)
            while sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                    "HyperParameterTuningJobStatus"] == "InProgress":
                clock.sleep(inputs.poll_s)
            job_walls.append(clock.now() - job_start)
            kwargs: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
            while True:  # 100 a page at most: a job of more trials is listed over several pages
                page = sm.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
                described += [sm.describe_training_job(TrainingJobName=t["TrainingJobName"])
                              for t in page["TrainingJobSummaries"]]
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
    finally:
        sim.close()
    price = price_per_hour(inputs.instance_type, prices)
    billable = sum(d.get("BillableTimeInSeconds") or 0 for d in described)
    turnaround: dict[str, list[float]] = {"cold": [], "warm": []}
    startups, warm_starts = [], 0
    for d in described:
        phases = phase_seconds(d)
        warm = phases.get("Starting", math.inf) <= AMT_WARM_STARTING_MAX_S
        warm_starts += warm
        turnaround["warm" if warm else "cold"].append((d["LastModifiedTime"] - d["CreationTime"]).total_seconds())
        if startup_seconds(phases) is not None:
            startups.append(startup_seconds(phases))
    waves = math.ceil(inputs.trials / inputs.parallel)
    return {
        "pools": "amt" if reuse else "amt-cold",
        "wall_s": clock.now() - start,
        "billable_s": billable * inputs.instance_count,
        "retained_s": 0.0,
        "cost_usd": cost_usd(billable, inputs.instance_count, price) if price is not None else None,
        "trials": len(described),
        "failed_trials": sum(1 for d in described if d["TrainingJobStatus"] != "Completed"),
        "warm_starts": warm_starts,
        "warm_starts_across_jobs": 0,
        "mean_startup_s": _mean(startups),
        "iteration_s": {"all": _mean(turnaround["cold"] + turnaround["warm"]), "cold": _mean(turnaround["cold"]),
                        "warm": _mean(turnaround["warm"])},
        "wave_s": _mean([w / waves for w in job_walls]),
        "price_per_hour": price,
        "notes": [] if inputs.keep_alive_s == CampaignInputs.keep_alive_s else [
            f"keep_alive_s {inputs.keep_alive_s} does not apply: AMT keeps no warm pools the user can set"],
        "requests": len(sim.calls),
    }
