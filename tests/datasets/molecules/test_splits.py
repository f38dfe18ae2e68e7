"""Random, scaffold, k-fold and predefined splits: disjoint, complete, seeded, scaffold-pure."""

from __future__ import annotations

import numpy as np
import pytest
import sciarch
from sciarch_datasets.molecules.splits import kfold_split, predefined_split, random_split, scaffold_split


def _check_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n and len(np.unique(joined)) == n


def test_random_split_sizes_follow_chemprop_counting_and_the_seed():
    train, val, test = random_split(642, (0.8, 0.1, 0.1), seed=0)
    assert (len(train), len(val), len(test)) == (513, 64, 65)
    _check_partition((train, val, test), 642)
    again = random_split(642, (0.8, 0.1, 0.1), seed=0)
    other = random_split(642, (0.8, 0.1, 0.1), seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(test, other[2])


def test_scaffold_split_never_puts_one_scaffold_in_two_parts():
    rng = np.random.default_rng(0)
    scaffolds = [f"scaffold{int(k)}" for k in rng.zipf(1.6, size=500) % 80]
    train, val, test = scaffold_split(scaffolds, (0.8, 0.1, 0.1), seed=3)
    _check_partition((train, val, test), 500)
    sets = [{scaffolds[i] for i in part} for part in (train, val, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(train) <= 400 and len(val) <= 50


def test_scaffold_split_of_real_molecules_with_murcko_scaffolds():
    from rdkit import Chem
    from sciarch_datasets.molecules.featurise import murcko_scaffold

    smiles = ["c1ccccc1C", "c1ccccc1CC", "c1ccccc1O", "C1CCCCC1N", "C1CCCCC1O", "CCO", "CCCN", "c1ccncc1C",
              "c1ccncc1", "C1CC1C", "C1CC1CC", "c1ccc2ccccc2c1"]
    scaffolds = [murcko_scaffold(Chem.MolFromSmiles(s)) for s in smiles]
    assert scaffolds[0] == scaffolds[1] == scaffolds[2] == "c1ccccc1"
    assert scaffolds[5] == scaffolds[6] == ""  # acyclic molecules share the empty scaffold
    train, val, test = scaffold_split(scaffolds, (0.5, 0.25, 0.25), seed=0)
    _check_partition((train, val, test), len(smiles))
    for part in (val, test):
        assert not {scaffolds[i] for i in part} & {scaffolds[i] for i in train}


def test_kfold_test_parts_cover_every_record_once():
    tests = [kfold_split(103, 5, fold, 0.1, seed=7)[2] for fold in range(5)]
    _check_partition(tests, 103)
    train, val, test = kfold_split(103, 5, 2, 0.1, seed=7)
    _check_partition((train, val, test), 103)
    assert len(val) == round(0.1 * (103 - len(test)))


def test_predefined_split_keeps_the_test_file_as_test():
    train, val, test = predefined_split(100, 30, 0.1, seed=0)
    assert test.tolist() == list(range(100, 130))
    _check_partition((train, val, test), 130)
    assert len(val) == 10


@pytest.mark.parametrize("sizes", [(0.8, 0.1), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_bad_split_sizes_are_a_usage_error(sizes):
    with pytest.raises(sciarch.UsageError, match="split sizes"):
        random_split(10, sizes)


def test_bad_fold_is_a_usage_error():
    with pytest.raises(sciarch.UsageError, match="fold must be"):
        kfold_split(10, 5, 5)
