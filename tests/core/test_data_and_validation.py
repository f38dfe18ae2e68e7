"""The resumable, self-sharding sampler, and argument checking against signatures."""

from __future__ import annotations

from typing import Literal

import pytest
from sciarch import data as data_module
from sciarch.data import ShardedSampler, loader
from sciarch.errors import ConfigError
from sciarch.validation import check_arguments, check_value


def test_epoch_order_depends_only_on_seed_and_epoch():
    a, b = ShardedSampler(100, shuffle=True, seed=3), ShardedSampler(100, shuffle=True, seed=3)
    assert list(a) == list(b) and sorted(a) == list(range(100))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == list(range(100))
    assert list(ShardedSampler(100, shuffle=True, seed=4)) != first
    assert list(ShardedSampler(10, shuffle=False)) == list(range(10))


def test_skip_leaves_out_consumed_samples_once():
    s = ShardedSampler(20, shuffle=True, seed=0)
    full = list(s)
    s.skip(8, epoch=0)
    assert list(s) == full[8:]
    assert list(s) == full  # only the resumed epoch is shortened
    s.skip(8, epoch=5)
    assert list(s) == full  # a skip for another epoch does not apply


@pytest.mark.parametrize("world", [2, 3])
def test_shards_cover_the_epoch_across_processes(monkeypatch, world):
    train, evaluate = [], []
    for rank in range(world):
        monkeypatch.setattr(data_module, "_world", lambda rank=rank: (rank, world))
        t = ShardedSampler(10, shuffle=True, seed=1, pad=True)
        e = ShardedSampler(10, shuffle=False, pad=False)
        assert len(list(t)) == len(t) == -(-10 // world)  # equal steps on every process
        train += list(t)
        evaluate += list(e)
        assert len(list(e)) == len(e)
    assert set(train) == set(range(10))
    assert sorted(evaluate) == list(range(10))  # each sample scored exactly once


def test_loader_state_round_trip():
    dl = loader(list(range(50)), batch_size=8, train=True, seed=2)
    dl.consumed = 3
    fresh = loader(list(range(50)), batch_size=8, train=True, seed=2)
    fresh.load_state_dict(dl.state_dict())
    batches = [b.tolist() for b in fresh]
    assert len(batches) == 7 - 3
    assert batches == [b.tolist() for b in dl][3:]


def builder(hidden: int, dropout: float = 0.0, split: Literal["random", "scaffold"] = "random",
            targets: list[str] | None = None, sizes: tuple[int, ...] = (1,)):
    return None


def test_arguments_are_checked_converted_and_completed():
    out = check_arguments(builder, {"hidden": 3, "dropout": 1, "targets": ["a"], "sizes": [1, 2]}, "model.args")
    assert out == {"hidden": 3, "dropout": 1.0, "split": "random", "targets": ["a"], "sizes": (1, 2)}
    assert isinstance(out["dropout"], float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"hidden": True}, "model.args.hidden: expected int, got True"),
        ({"hidden": 1, "split": "scafold"}, "expected one of 'random', 'scaffold', got 'scafold'; did you mean 'scaffold'"),
        ({"hidden": 1, "targets": "a"}, "model.args.targets: expected"),
        ({"hidden": 1, "targets": [1]}, "model.args.targets[0]: expected str, got 1"),
        ({"hiden": 1}, "unknown argument; did you mean 'hidden'"),
        ({}, "missing required argument 'hidden'"),
    ],
)
def test_argument_mistakes_are_named(args, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_arguments(builder, args, "model.args")


def test_scalar_conversions():
    assert check_value("1e-3", float, "lr") == 1e-3
    assert check_value(None, int | None, "x") is None
    with pytest.raises(ConfigError):
        check_value("fast", float, "lr")
