"""Train/validation/test splits of molecule sets: random, Bemis–Murcko scaffold, k-fold.

Every split is a pure function of its arguments and a seed, and returns index arrays into the
featurised records, so a run can write its split next to its checkpoints and be reproduced.

``groups`` (one hashable per record: the molecule's canonical identity, see :mod:`.duplicates`)
keeps records of one molecule on one side: each group goes where its first record in the seeded
order would have gone. Without duplicates the split is the same as without ``groups``.

- ``random``: a seeded permutation cut at the given fractions (chemprop's counting:
  ``int(f_train · n)`` training records, ``int((f_train + f_val) · n) − int(f_train · n)`` for
  validation, the rest for test).
- ``scaffold``: molecules are grouped by their Bemis–Murcko scaffold (Bemis & Murcko, J. Med.
  Chem. 39, 2887, 1996) so that no scaffold is in two parts, which measures generalisation to new
  chemotypes. Groups larger than half the validation or test size go to training first (they
  would otherwise swamp a small part); the remaining groups are shuffled by the seed and placed
  greedily. This is the "balanced scaffold split" of Yang et al., J. Chem. Inf. Model. 59, 3370
  (2019).
- ``kfold``: a seeded permutation cut into ``k`` folds; fold ``i`` is the test part and a seeded
  ``val_fraction`` of the rest is held out for validation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np
from sciarch import UsageError


def _check_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    if len(sizes) != 3 or any(s < 0 for s in sizes) or abs(sum(sizes) - 1.0) > 1e-6:
        raise UsageError(f"split sizes must be three non-negative fractions summing to 1, got {list(sizes)}")
    return float(sizes[0]), float(sizes[1]), float(sizes[2])


def _keep_together(part_of: np.ndarray, order: np.ndarray, groups: Sequence[Hashable] | None) -> np.ndarray:
    """Each group's records moved to the part of the group's first record in ``order``."""
    if groups is None:
        return part_of
    out = part_of.copy()
    first: dict[Hashable, int] = {}
    for i in order:
        g = groups[int(i)]
        if g in first:
            out[i] = part_of[first[g]]
        else:
            first[g] = int(i)
    return out


def _parts(part_of: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    return tuple(np.flatnonzero(part_of == k).astype(np.int64) for k in range(count))


def random_split(n: int, sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                 groups: Sequence[Hashable] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f_train, f_val, _ = _check_sizes(sizes)
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(f_train * n), int((f_train + f_val) * n)
    part_of = np.empty(n, dtype=np.int64)
    part_of[order[:a]], part_of[order[a:b]], part_of[order[b:]] = 0, 1, 2
    return _parts(_keep_together(part_of, order, groups), 3)


def scaffold_split(scaffolds: Sequence[str], sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f_train, f_val, f_test = _check_sizes(sizes)
    n = len(scaffolds)
    n_train, n_val = int(f_train * n), int((f_train + f_val) * n) - int(f_train * n)
    n_test = n - n_train - n_val
    groups: dict[str, list[int]] = defaultdict(list)
    for i, scaffold in enumerate(scaffolds):
        groups[scaffold].append(i)
    sets = list(groups.values())
    big = [g for g in sets if len(g) > n_val / 2 or len(g) > n_test / 2]
    small = [g for g in sets if not (len(g) > n_val / 2 or len(g) > n_test / 2)]
    rng = np.random.default_rng(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for group in big + small:
        if len(train) + len(group) <= n_train:
            train += group
        elif len(val) + len(group) <= n_val:
            val += group
        else:
            test += group
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64)), \
        np.sort(np.asarray(test, dtype=np.int64))


def kfold_split(n: int, num_folds: int = 5, fold: int = 0, val_fraction: float = 0.1, seed: int = 0,
                groups: Sequence[Hashable] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if num_folds < 2:
        raise UsageError(f"num_folds must be at least 2, got {num_folds}")
    if not 0 <= fold < num_folds:
        raise UsageError(f"fold must be in 0..{num_folds - 1}, got {fold}")
    if not 0 <= val_fraction < 1:
        raise UsageError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    folds = np.array_split(order, num_folds)
    fold_of = np.empty(n, dtype=np.int64)
    for k, members in enumerate(folds):
        fold_of[members] = k
    fold_of = _keep_together(fold_of, order, groups)
    candidates = np.concatenate([f for i, f in enumerate(folds) if i != fold] + [folds[fold]])
    rest = rng.permutation(candidates[fold_of[candidates] != fold])
    n_val = int(round(val_fraction * len(rest)))
    part_of = np.full(n, 2, dtype=np.int64)
    part_of[rest[n_val:]], part_of[rest[:n_val]] = 0, 1
    part_of[rest] = _keep_together(part_of, rest, groups)[rest]
    return _parts(part_of, 3)


def predefined_split(n_train_file: int, n_test_file: int, val_fraction: float = 0.1, seed: int = 0,
                     groups: Sequence[Hashable] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records ``0..n_train_file-1`` from a training file (a seeded ``val_fraction`` of them held out
    for validation) and the next ``n_test_file`` from a separate test file. ``groups`` keep one
    molecule on one side of train/validation; the test file is the user's and is not changed."""
    order = np.random.default_rng(seed).permutation(n_train_file)
    n_val = int(round(val_fraction * n_train_file))
    part_of = np.empty(n_train_file, dtype=np.int64)
    part_of[order[n_val:]], part_of[order[:n_val]] = 0, 1
    train, val = _parts(_keep_together(part_of, order, groups), 2)
    test = np.arange(n_train_file, n_train_file + n_test_file)
    return train, val, test
