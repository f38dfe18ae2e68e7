"""The crowding harness's ``RUN@name=value,…`` inference settings (plugins/tracks/crowding.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sciarch
from sciarch_tracks.crowding import apply_settings


def _task():
    model = SimpleNamespace(edge_threshold=0.5, min_hits=10, direction="learned", join=True)
    return SimpleNamespace(model=model, score_threshold=0.3)


def test_settings_reach_the_model_or_the_task_with_their_types():
    task = _task()
    apply_settings(task, "edge_threshold=0.7,min_hits=40,direction=geometry,join=false,score_threshold=0.45")
    assert task.model.edge_threshold == 0.7 and isinstance(task.model.edge_threshold, float)
    assert task.model.min_hits == 40 and isinstance(task.model.min_hits, int)
    assert task.model.direction == "geometry"
    assert task.model.join is False
    assert task.score_threshold == 0.45


@pytest.mark.parametrize("settings, message", [
    ("no_such=1", "no_such"),
    ("_private=1", "_private"),
    ("min_hits=many", "takes a number"),
    ("join=maybe", "true or false"),
])
def test_bad_settings_name_the_run_and_the_setting(settings, message):
    with pytest.raises(sciarch.UsageError, match=message) as error:
        apply_settings(_task(), settings, "/runs/gnn")
    assert "/runs/gnn" in str(error.value)
