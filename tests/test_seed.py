"""What a job's ``seed`` repeats, as the README says ("What `seed` repeats"), on the real warm pool.

One trial at a time, a seeded job runs the same trials in the same order every time. With trials in parallel,
the order in which they finish decides what the sampler has seen when it proposes the next one, so only the
random start-up trials (and every trial's own seed) repeat.
"""

from __future__ import annotations

from typing import Any

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus
from tests import objectives

SPACE = {"x": {"type": "float", "low": -3, "high": 3}, "depth": {"type": "int", "low": 1, "high": 8},
         "booster": ["gbtree", "dart"]}
TRIALS = 15  # TPE's start-up: max(5, min(10, TRIALS // 3)) = 5 random trials


def _run(name: str, seed: int, parallel: int) -> list[dict[str, Any]]:
    job = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=TRIALS, max_parallel=parallel,
                     seed=seed, name=name)
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert [r["number"] for r in records] == list(range(TRIALS))
    seeds = {t.number: t.user_attrs["seed"] for t in job.store.trials(job.name)}  # the seed the worker set
    return [{**r, "seed": seeds[r["number"]]} for r in records]


def _trials(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["params"], r["value"], r["seed"]) for r in records]


def test_one_trial_at_a_time_a_seeded_job_repeats_every_trial(home):
    first, again = _run("seq-a", 7, 1), _run("seq-b", 7, 1)
    assert _trials(first) == _trials(again)
    other = _run("seq-c", 8, 1)
    assert [r["params"] for r in other][:5] != [r["params"] for r in first][:5], "another seed, other trials"


def test_with_trials_in_parallel_a_seeded_job_repeats_its_start_up_trials(home):
    first, again = _run("par-a", 7, 2), _run("par-b", 7, 2)
    assert _trials(first)[:5] == _trials(again)[:5]  # the random start-up trials
    assert [r["seed"] for r in first] == [r["seed"] for r in again]  # each trial's own seed, by its number


def test_a_seeded_hyperband_job_prunes_the_same_trials_every_time(home):
    """Hyperband puts each trial in a bracket by a hash of the study's name: the runner's study had a random
    name, so two runs of the same seeded job pruned different trials (and so got different values)."""
    def run(name: str) -> list[tuple[Any, ...]]:
        job = api.launch(objective=objectives.stepwise, space={"x": {"type": "float", "low": 0, "high": 1}},
                         strategy="hyperband", max_trials=14, max_parallel=1, seed=0, name=name)
        assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
        return [(r["number"], r["state"], r["params"], r["value"]) for r in job.trial_records()]

    runs = [run(f"hb-{i}") for i in range(3)]
    assert any(state == "pruned" for _, state, _, _ in runs[0]), runs[0]  # or pruning is not tested
    assert runs[1] == runs[0] and runs[2] == runs[0]


def test_unseeded_jobs_give_their_trials_seeds_of_their_own(home):
    """Without `seed`, trial n's seed was n, as with `seed: 0`: every unseeded job reseeded its trials' NumPy and
    `random` with the same values."""
    def seeds(name: str, seed: int | None) -> list[int]:
        job = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=3, max_parallel=1, seed=seed,
                         name=name)
        assert job.wait(timeout=120) == JobStatus.COMPLETED
        return [t.user_attrs["seed"] for t in sorted(job.store.trials(job.name), key=lambda t: t.number)]

    zero, a, b = seeds("zero", 0), seeds("free-a", None), seeds("free-b", None)
    assert len({tuple(zero), tuple(a), tuple(b)}) == 3, (zero, a, b)
