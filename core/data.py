"""Data loaders that resume mid-epoch and shard themselves across processes.

A plugin's DataModule builds its loaders with :func:`loader`. The training loader keeps its place
in the epoch in Lightning's checkpoints (it implements ``state_dict``/``load_state_dict``), so a
run killed mid-epoch and resumed with ``--resume`` sees exactly the batches it had not yet trained
on, in the same order: nothing is trained twice or skipped. The order of an epoch depends only on
``(seed, epoch)``, and under DDP each process takes its own share of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def _world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ShardedSampler(DistributedSampler):
    """Indices of one process's share of an epoch, shuffled by ``(seed, epoch)``.

    It subclasses ``DistributedSampler`` so Lightning leaves it in place under DDP; rank and world
    size are read when an epoch starts. Training shares are padded to equal length (every process
    must take the same number of steps); evaluation shares are not padded, so each sample is
    scored once.
    """

    def __init__(self, num_samples: int, *, shuffle: bool, seed: int = 0, pad: bool = True) -> None:
        # deliberately not calling DistributedSampler.__init__: it needs the process group now
        self.size = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.pad = pad
        self.epoch = 0
        self._skip = 0
        self._skip_epoch = -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, samples: int, epoch: int) -> None:
        """Leave out the first ``samples`` indices of ``epoch`` (already trained on)."""
        self._skip, self._skip_epoch = samples, epoch

    def _share(self) -> list[int]:
        rank, world = _world()
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if world > 1 and self.pad and order:
            total = math.ceil(self.size / world) * world
            order = (order * math.ceil(total / len(order)))[:total]
        return order[rank::world]

    def __iter__(self) -> Iterator[int]:
        share = self._share()
        if self._skip and self._skip_epoch == self.epoch:
            share = share[self._skip:]
        self._skip, self._skip_epoch = 0, -1
        return iter(share)

    def __len__(self) -> int:
        rank, world = _world()
        if world == 1:
            return self.size
        if self.pad:
            return math.ceil(self.size / world)
        return len(range(rank, self.size, world))


class ResumableLoader(DataLoader):
    """A DataLoader whose position in the epoch travels with Lightning's checkpoints."""

    def __init__(self, dataset: Dataset, *, batch_size: int, shuffle: bool, seed: int = 0,
                 drop_last: bool = False, pad: bool = True, **kwargs: Any) -> None:
        sampler = ShardedSampler(len(dataset), shuffle=shuffle, seed=seed, pad=pad)  # type: ignore[arg-type]
        self.base_seed = seed
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                         generator=torch.Generator().manual_seed(seed), **kwargs)
        #: batches of the current epoch handed to the training step (set by the host's callback)
        self.consumed = 0

    def __iter__(self) -> Any:
        # worker seeds depend on (seed, epoch) only, so they are the same after a resume
        self.generator.manual_seed(self.base_seed * 7919 + self.sampler.epoch)
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": int(self.sampler.epoch), "consumed_batches": int(self.consumed)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        consumed = int(state.get("consumed_batches", 0))
        self.consumed = consumed
        if consumed < len(self):
            self.sampler.skip(consumed * int(self.batch_size or 1), int(state.get("epoch", 0)))


def loader(dataset: Dataset | Sequence, *, batch_size: int, train: bool, seed: int = 0,
           collate_fn: Callable | None = None, num_workers: int = 0, drop_last: bool = False,
           pin_memory: bool | None = None, **kwargs: Any) -> DataLoader:
    """The loader a DataModule should return.

    ``train=True``: shuffled by ``(seed, epoch)``, resumable mid-epoch, padded across processes.
    ``train=False``: in order, each sample once across processes.
    """
    if num_workers > 0:
        kwargs.setdefault("persistent_workers", True)
    if pin_memory is None:  # page-locked batches copy to a GPU asynchronously; nothing to gain without one
        pin_memory = torch.cuda.is_available()
    return ResumableLoader(dataset, batch_size=batch_size, shuffle=train, seed=seed,  # type: ignore[arg-type]
                           drop_last=drop_last if train else False, pad=train, collate_fn=collate_fn,
                           num_workers=num_workers, pin_memory=pin_memory, **kwargs)
