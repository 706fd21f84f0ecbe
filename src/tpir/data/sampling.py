"""The order of training samples: a resumable shuffle whose every sample is fixed by (seed, epoch, index).

A training sample is named by a *key*, ``epoch * size + index``: the dataset reads its image ``index``
and seeds all of the sample's randomness (crop, degradation, prompt) from (seed, key). So a sample does
not depend on which process or worker makes it, nor on what ran before; the data of a run is a pure
function of its seed, and a resumed run only has to know where it stopped (:class:`DataPosition`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.utils.data import Sampler


def mixed_seed(*parts: int) -> int:
    """One seed in [0, 2**63) from integers, e.g. ``mixed_seed(seed, key)``: a hash, so neighbouring
    parts give unrelated seeds."""
    digest = hashlib.blake2b(",".join(str(int(part)) for part in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True)
class DataPosition:
    """Where a run's training data stands: the epoch and the batches of it this rank has trained on."""

    epoch: int = 0
    batches: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> DataPosition:
        return cls(int(state["epoch"]), int(state["batches"]))


class EpochKeys(Sampler[int]):
    """Keys of the training samples, epoch by epoch: ``epoch * size + i`` for ``i`` in a permutation of
    ``range(size)`` drawn from (seed, epoch); rank ``r`` of ``world`` takes every ``world``-th of them.

    Lightning calls :meth:`set_epoch` at the start of each epoch. :meth:`resume` makes the next pass start
    where a checkpoint stopped: in its epoch after the batches it had trained on, or at the next epoch
    when that one was complete.

    Args:
        size: samples per epoch (the dataset's length).
        seed: seed of the run.
        batch_size: samples per batch (to turn trained batches into samples to skip).
        rank: this process's rank; world: the number of processes.
    """

    def __init__(self, size: int, seed: int, batch_size: int, rank: int = 0, world: int = 1) -> None:
        self.size = size
        self.seed = seed
        self.batch_size = batch_size
        self.rank = rank
        self.world = world
        self.epoch = 0
        self._resume: DataPosition | None = None

    def __len__(self) -> int:
        """Keys per epoch for this rank (the same for every rank)."""
        return self.size // self.world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, position: DataPosition) -> None:
        """Start the next pass at ``position`` (its epoch, after its trained batches)."""
        self._resume = position

    def keys(self, epoch: int) -> list[int]:
        """This rank's keys of ``epoch``, in training order."""
        order = torch.randperm(
            self.size, generator=torch.Generator().manual_seed(mixed_seed(self.seed, epoch))
        )
        mine = order[self.rank : len(self) * self.world : self.world]
        return (mine + epoch * self.size).tolist()

    def __iter__(self) -> Iterator[int]:
        epoch, skip = self.epoch, 0
        if self._resume is not None:
            position, self._resume = self._resume, None
            epoch, skip = position.epoch, position.batches * self.batch_size
            if skip >= len(self):  # the checkpoint closed its epoch: go on with the next one
                epoch, skip = epoch + 1, 0
            self.epoch = epoch
        yield from self.keys(epoch)[skip:]
