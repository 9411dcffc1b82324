"""Options that were accepted and silently ignored are refused at launch, in one line naming the field, the value
and what to do, and nothing is written to the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from tests import objectives

SPACE = {"x": {"type": "float", "low": 0, "high": 2}}


def refused(spec: Any = None, **options: Any) -> str:
    """The one-line message ``api.launch`` refuses with; nothing written."""
    with pytest.raises(SpecError) as e:
        api.launch(spec, **options)
    text = str(e.value)
    assert "\n" not in text, text
    name = (spec or {}).get("name") if isinstance(spec, dict) else None
    name = options.get("name", name)
    assert name not in {j["name"] for j in api.list_jobs()}  # nothing written
    return text


def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text("print('auc=0.5')\n")
    return path


# -- 1. objectives= with metric=/direction=/regex= -------------------------------------------------------------------
OBJECTIVES = [{"metric": "objective", "direction": "maximize"}, {"metric": "calls", "direction": "minimize"}]


@pytest.mark.parametrize("first", ["objectives", "single"])
def test_objectives_with_a_single_objective_keyword_is_refused_in_either_order(home, first):
    """The single objective's keywords were dropped (``metric=`` first) or raised a bare TypeError (after)."""
    single = {"metric": "loss", "direction": "minimize"}
    options = {"objectives": OBJECTIVES, **single} if first == "objectives" else {**single, "objectives": OBJECTIVES}
    text = refused(objective=objectives.worker_identity, space=SPACE, max_trials=2, name="mo-clash", **options)
    assert "`objectives=[...]`" in text and "`metric=`, `direction=` cannot also be given" in text, text
    assert "metric='loss', direction='minimize'" in text and "put them in the objectives' dicts" in text, text
    if first == "objectives":  # the same job without the single-objective keywords runs
        job = api.launch(objective=objectives.worker_identity, space=SPACE, max_trials=2, name="mo-clash",
                         objectives=OBJECTIVES)
        assert job.wait(timeout=60).value == "completed"
