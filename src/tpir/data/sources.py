"""Where (degraded, clean) pairs come from: clean images degraded on the fly, or real pairs read from disk.

A source gives pair ``index`` as float (3, H, W) images, RGB in [0, 1], optionally cropped at random (the
same window on both), drawing from the ``torch.Generator`` it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from tpir.data.degradations.realistic import add_realistic_degradations
from tpir.data.images import ImageBank
from tpir.data.layout import ImagePair
from tpir.data.photos import to_float
from tpir.data.tasks import get_task
from tpir.data.transforms import crop_pair


class PairSource(Protocol):
    """Anything that yields aligned (lq, gt) pairs; ``pair`` returns float (3, H, W) images."""

    def __len__(self) -> int: ...

    def pair(
        self, index: int, generator: torch.Generator, crop: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pair ``index``; with ``crop``, a random crop x crop window (the same on both)."""
        ...

    def base(
        self, index: int, generator: torch.Generator, crop: int | None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """What composites are built on: (the real degraded image or None, the clean image), cropped alike."""
        ...

    def name(self, index: int) -> str: ...

    def banks(self) -> list[ImageBank]:
        """The image banks it reads."""
        ...

    def images(self) -> list[str]:
        """Ids of its clean images (:meth:`ImageBank.ids`)."""
        ...


@dataclass
class CleanImages:
    """Clean images degraded on the fly (:meth:`degrade`, by a subclass); each pair's randomness comes from
    the generator it is asked with.

    Attributes:
        bank: the clean images.
    """

    bank: ImageBank

    def __len__(self) -> int:
        return len(self.bank)

    def name(self, index: int) -> str:
        return self.bank.names[index]

    def banks(self) -> list[ImageBank]:
        return [self.bank]

    def images(self) -> list[str]:
        return self.bank.ids()

    def pair(
        self, index: int, generator: torch.Generator, crop: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, clean = self.base(index, generator, crop)
        return self.degrade(clean, generator), clean

    def base(self, index: int, generator: torch.Generator, crop: int | None) -> tuple[None, torch.Tensor]:
        """The clean image (cropped): its degradation is a synthetic layer of the composite."""
        (clean,) = crop_pair([self.bank[index]], crop, generator)
        return None, to_float(clean)

    def degrade(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``clean`` (3, H, W) in [0, 1] degraded, drawing from ``generator``."""
        raise NotImplementedError


@dataclass
class SyntheticPairs(CleanImages):
    """Clean images degraded on the fly with a task's synthetic degradation.

    Attributes:
        bank: the clean images.
        task: the task whose degradation is applied (``denoise``, ``derain``, ...; see ``tpir.data.tasks``).
        params: fixed parameters (a test set at one strength, e.g. ``NoiseParams(25)``); None draws them.
    """

    task: str
    params: Any | None = None

    def __post_init__(self) -> None:
        get_task(self.task)  # fail on construction, not at the first sample

    def degrade(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return get_task(self.task).apply(clean, generator, self.params)[0]


@dataclass
class RealisticPairs(CleanImages):
    """Clean images degraded by the realistic chain (:mod:`tpir.data.degradations.realistic`), drawn from
    the generator each pair is asked with (a test set's fixed seed per image)."""

    def degrade(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return add_realistic_degradations(clean, generator)[0]


@dataclass
class RealPairs:
    """Degraded/clean pairs read from disk (kept as uint8 after the first read)."""

    pairs: Sequence[ImagePair]

    def __post_init__(self) -> None:
        self.lq = ImageBank([p.lq for p in self.pairs])
        self.gt = ImageBank([p.gt for p in self.pairs])

    def __len__(self) -> int:
        return len(self.pairs)

    def name(self, index: int) -> str:
        return self.pairs[index].lq.name

    def banks(self) -> list[ImageBank]:
        return [self.lq, self.gt]

    def images(self) -> list[str]:
        return self.gt.ids()

    def pair(
        self, index: int, generator: torch.Generator, crop: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lq, gt = self.lq[index], self.gt[index]
        # Some benchmarks store targets a few pixels larger; keep the common top-left area.
        height, width = min(lq.shape[-2], gt.shape[-2]), min(lq.shape[-1], gt.shape[-1])
        lq, gt = crop_pair([lq[:, :height, :width], gt[:, :height, :width]], crop, generator)
        return to_float(lq), to_float(gt)

    def base(
        self, index: int, generator: torch.Generator, crop: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pair(index, generator, crop)
