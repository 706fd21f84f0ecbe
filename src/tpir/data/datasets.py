"""Datasets of (degraded, clean) pairs for stage 2: a seeded mixture of tasks for training, fixed sets for
evaluation. Every sample is a dict with ``lq`` and ``gt`` (3, H, W) RGB in [0, 1], ``task`` (int id),
``prompt`` (str) and ``name`` (str); training samples also say which ``degradations`` they have and which
their prompt ``named`` for removal (task names joined by commas; a named degradation the image lacks stays
lacking), and, per task in id order, whether it is ``present`` (T,) and its ``strength`` (T,): the number of
a synthetic layer of a task declared with ``partial_removal`` (sigma on 0-255), NaN where unknown; the same
of the target as ``target_present`` and ``target_strength`` (a clean target has nothing present).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from tpir.data.composite import Stack, physical_order, stack_layers
from tpir.data.layout import ImagePair
from tpir.data.photos import PhotoError, read_image_uint8, to_float
from tpir.data.prompting import PromptMix, PromptWriter, pick
from tpir.data.sampling import mixed_seed
from tpir.data.tasks import get_task


class ImageBank:
    """Clean images, by path (read once, kept as uint8) or given in memory.

    Args:
        images: paths, or (3, H, W) uint8 tensors.
        names: names of in-memory images (paths name themselves).
    """

    def __init__(self, images: Sequence[Path | torch.Tensor], names: Sequence[str] | None = None) -> None:
        if not images:
            raise ValueError("an ImageBank needs at least one image.")
        self.images = list(images)
        self.names = list(names) if names is not None else [Path(str(p)).name for p in self.images]
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Image ``index`` as (3, H, W) uint8."""
        image = self.images[index]
        if isinstance(image, torch.Tensor):
            return image
        if index not in self._cache:
            self._cache[index] = read_image_uint8(image)
        return self._cache[index]

    def ids(self) -> list[str]:
        """What tells the images apart across banks: resolved paths, or the names of in-memory images."""
        return [
            name if isinstance(image, torch.Tensor) else str(Path(image).resolve())
            for image, name in zip(self.images, self.names, strict=True)
        ]

    def preload(self) -> dict[str, str]:
        """Read every image now; returns the unreadable ones, {path: why}, and keeps the others."""
        failures = {}
        for index, image in enumerate(self.images):
            try:
                self[index]
            except PhotoError as error:
                failures[str(image)] = str(error).removeprefix(f"{image}: ").rstrip(".")
        return failures


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


def random_window(height: int, width: int, crop: int, generator: torch.Generator) -> tuple[int, int]:
    """Top-left corner of a random crop x crop window inside (height, width)."""
    top = int(torch.randint(max(height - crop, 0) + 1, (1,), generator=generator))
    left = int(torch.randint(max(width - crop, 0) + 1, (1,), generator=generator))
    return top, left


def crop_pair(
    images: Sequence[torch.Tensor], crop: int | None, generator: torch.Generator
) -> list[torch.Tensor]:
    """The same random crop x crop window of each image (..., H, W); images smaller than the crop are
    first padded at the bottom and right by repeating their border."""
    if crop is None:
        return list(images)
    height, width = images[0].shape[-2:]
    pad_h, pad_w = max(crop - height, 0), max(crop - width, 0)
    if pad_h or pad_w:
        images = [F.pad(x.float()[None], (0, pad_w, 0, pad_h), mode="replicate")[0] for x in images]
        height, width = height + pad_h, width + pad_w
    top, left = random_window(height, width, crop, generator)
    return [x[..., top : top + crop, left : left + crop] for x in images]


@dataclass
class SyntheticPairs:
    """Clean images degraded on the fly with a task's synthetic degradation.

    Attributes:
        bank: the clean images.
        task: the task whose degradation is applied (``denoise``, ``derain``, ...; see ``tpir.data.tasks``).
        params: fixed parameters (a test set at one strength, e.g. ``NoiseParams(25)``); None draws them.
    """

    bank: ImageBank
    task: str
    params: Any | None = None

    def __post_init__(self) -> None:
        get_task(self.task)  # fail on construction, not at the first sample

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
        degraded, _ = get_task(self.task).apply(clean, generator, self.params)
        return degraded, clean

    def base(self, index: int, generator: torch.Generator, crop: int | None) -> tuple[None, torch.Tensor]:
        """The clean image (cropped): its degradation is a synthetic layer of the composite."""
        (clean,) = crop_pair([self.bank[index]], crop, generator)
        return None, to_float(clean)


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


def random_dihedral(
    images: Sequence[torch.Tensor], generator: torch.Generator, rotate: bool = True
) -> list[torch.Tensor]:
    """Flip all images (..., H, W) together horizontally and/or vertically, each with probability 1/2, then,
    with ``rotate``, turn them a quarter with probability 1/2: the 8 transforms of the square
    (PromptIR-style training), each with probability 1/8. Without ``rotate``, the 4 flips that keep
    vertical streaks vertical, drawn as they were before quarter turns existed."""
    flips = torch.rand(2, generator=generator) < 0.5
    dims = [d for d, flip in zip((-1, -2), flips.tolist(), strict=True) if flip]
    turn = rotate and bool(torch.rand(1, generator=generator) < 0.5)
    return [torch.rot90(x.flip(dims) if dims else x, int(turn), dims=(-2, -1)) for x in images]


def task_cycle(tasks: Sequence[str], shares: Mapping[str, int]) -> list[str]:
    """The turns of ``tasks`` in a training cycle: round ``r`` holds, in order, each task whose share is
    above ``r`` (:class:`TaskMixture`).

    Raises:
        ValueError: ``shares`` names a task not in ``tasks`` or gives one a share that is not a positive
            integer.
    """
    for task, share in shares.items():
        if task not in tasks:
            raise ValueError(
                f"datamodule.task_shares.{task}: not a trained task; expected one of {', '.join(tasks)}."
            )
        if not isinstance(share, int) or isinstance(share, bool) or share < 1:
            raise ValueError(f"datamodule.task_shares.{task}={share!r}; expected a positive integer.")
    rounds = max([1, *shares.values()])
    return [task for r in range(rounds) for task in tasks if shares.get(task, 1) > r]


class TaskMixture(Dataset):
    """Training samples of several tasks in given shares (equal by default), single or stacked, each with
    a prompt and the target that prompt asks for.

    The tasks take turns in a fixed cycle in which a task of share ``n`` has ``n`` turns, one per round
    (``denoise, derain, deblur`` with shares ``{deblur: 2}``: ``denoise, derain, deblur, deblur``; with
    ``{denoise: 2}``: ``denoise, derain, deblur, denoise``). Sample ``i`` has the degradation of turn
    ``i % len(cycle)``; with ``mix.composite`` one or two more of the tasks are stacked on it in physical
    order (``tpir.data.composite``). The earliest degradation comes from one of its task's sources, drawn
    with the given weights (a real rainy photo, or the clean image degraded synthetically); the others are
    synthetic. The prompt then asks to remove:

    - with ``mix.blind``, everything ("remove all degradation"): the target is clean;
    - with ``mix.wrong``, one degradation the image does not have: the target is the input;
    - else a non-empty subset of the degradations present, drawn uniformly, and each absent one with
      ``mix.absent`` (naming what is not there must do nothing, which blind prompts need too), stating
      their numbers with ``mix.numeric`` (when every one named is a synthetic layer with a number; with
      ``mix.understate``, for tasks declared with ``partial_removal``, a strength below the true one, of
      which the target keeps the rest): the target is the image rebuilt without them, with the same noise
      and streaks.

    Samples are read by *key* (``tpir.data.sampling``): key ``k`` is sample ``k % length`` of epoch
    ``k // length``, and all of its randomness is seeded from (``seed``, ``k``). So a sample is the same
    whichever process or worker makes it and whatever ran before (a resumed run sees the data of a straight
    one), and every epoch sees new crops, noise and prompts.

    Args:
        sources: per task, a list of (source, weight).
        writer: writes the prompts (the corpus's training split).
        task_ids: integer id of each task (the order of the ``degradation`` config).
        shares: per task, its turns in the cycle of tasks, a positive integer (1 where not given).
        crop_size: side of the square training crops.
        length: samples per epoch.
        mix: the shares of composite images and of each kind of prompt.
        rotate: augment with quarter turns too (all 8 dihedral transforms), not only flips.
        seed: seed of the run's samples.
        visible: a degradation whose change is below this share of that of the degradations stacked over
            it is hidden: its labels for the degradation estimator (``present``, ``strength`` and those of
            the target) are NaN, unknown. 0 hides none.

    Raises:
        ValueError: ``mix.strengths`` names a task that is not trained or states no number; ``shares``
            names a task that is not trained or gives it no positive integer.
    """

    def __init__(
        self,
        sources: dict[str, list[tuple[PairSource, float]]],
        writer: PromptWriter,
        task_ids: dict[str, int],
        crop_size: int,
        length: int,
        mix: PromptMix | None = None,
        rotate: bool = True,
        seed: int = 0,
        shares: Mapping[str, int] | None = None,
        visible: float = 0.0,
    ) -> None:
        self.tasks = list(sources)
        self.cycle = task_cycle(self.tasks, shares or {})
        self.sources = sources
        self.writer = writer
        self.task_ids = task_ids
        self.crop_size = crop_size
        self.length = length
        self.mix = mix or PromptMix()
        self.strengths = {task: tuple(map(float, span)) for task, span in self.mix.strengths.items()}
        for task in self.strengths:
            if task not in self.tasks or not writer.takes_number(task):
                raise ValueError(
                    f"datamodule.mix.strengths.{task}: not a trained task whose prompts state a number."
                )
        self.rotate = rotate
        self.seed = seed
        self.visible = visible

    def __len__(self) -> int:
        return self.length

    def _present(self, index: int, generator: torch.Generator) -> list[str]:
        """The degradations of sample ``index``, in physical order."""
        task = self.cycle[index % len(self.cycle)]
        others = [t for t in self.tasks if t != task]
        if others and float(torch.rand(1, generator=generator)) < self.mix.composite:
            extra = 1 + int(torch.randint(min(2, len(others)), (1,), generator=generator))
            order = torch.randperm(len(others), generator=generator)[:extra].tolist()
            return physical_order([task, *(others[i] for i in order)])
        return [task]

    def _params(self, task: str, generator: torch.Generator) -> Any:
        """Parameters of a synthetic layer, its strength from ``strengths`` and rounded as prompts state it."""
        params = get_task(task).sample_params(generator)
        if not self.writer.takes_number(task) or stated_number(params) is None:
            return params
        number = params.number
        if task in self.strengths:
            low, high = self.strengths[task]
            number = low + (high - low) * float(torch.rand(1, generator=generator))
        return params.with_number(self.writer.rounded(task, number))

    def _stack(self, present: list[str], generator: torch.Generator) -> tuple[Stack, str]:
        """The degraded image: its earliest degradation from a source of its task, the rest synthetic."""
        options = self.sources[present[0]]
        weights = torch.tensor([weight for _, weight in options], dtype=torch.float)
        source = options[int(torch.multinomial(weights, 1, generator=generator))][0]
        item = int(torch.randint(len(source), (1,), generator=generator))
        real, clean = source.base(item, generator, self.crop_size)
        synthetic = present[1:] if real is not None else present
        layers = stack_layers(synthetic, generator, sample_params=self._params)
        return Stack(clean, layers, None if real is None else (present[0], real)), source.name(item)

    def _request(self, stack: Stack, generator: torch.Generator) -> tuple[list[str], dict[str, float], str]:
        """What the prompt names for removal (degradations the image lacks included), the strengths it
        states below what is there (to be removed partly), and the prompt."""
        present = list(stack.tasks)
        absent = [t for t in self.tasks if t not in present]
        draw = float(torch.rand(1, generator=generator))
        if draw < self.mix.blind:
            return list(self.tasks), {}, self.writer.blind(generator)
        if draw < self.mix.blind + self.mix.wrong and absent:
            named = pick(absent, generator)
            return [named], {}, self.writer.free(named, generator)
        subsets = [
            [t for bit, t in enumerate(present) if mask >> bit & 1] for mask in range(1, 2 ** len(present))
        ]
        named = pick(subsets, generator)
        extra = [t for t in absent if float(torch.rand(1, generator=generator)) < self.mix.absent]
        named = physical_order([*named, *extra])
        layers = [layer for layer in stack.layers if layer.task in named]
        numeric = (
            len(layers) == len(named)
            and all(
                self.writer.takes_number(layer.task) and stated_number(layer.params) is not None
                for layer in layers
            )
            and float(torch.rand(1, generator=generator)) < self.mix.numeric
        )
        if not numeric:
            return named, {}, self.writer.write(named, None, generator)
        numbers = {layer.task: layer.params.number for layer in layers}
        partly = {}
        for task, number in numbers.items():
            if (
                get_task(task).partial_removal
                and float(torch.rand(1, generator=generator)) < self.mix.understate
            ):
                low = self.strengths.get(task, (0.0,))[0]
                stated = self.writer.rounded(
                    task, low + (number - low) * float(torch.rand(1, generator=generator))
                )
                if stated < number:
                    numbers[task] = partly[task] = stated
        return named, partly, self.writer.write(named, numbers, generator)

    def __getitem__(self, key: int) -> dict[str, Any]:
        """The sample of ``key`` (an index in ``range(length)`` is epoch 0's)."""
        index = key % self.length
        generator = torch.Generator().manual_seed(mixed_seed(self.seed, key))
        present = self._present(index, generator)
        stack, name = self._stack(present, generator)
        named, partly, prompt = self._request(stack, generator)
        target = stack.left(named, partly)
        lq, gt = random_dihedral([stack.degraded, target.degraded], generator, self.rotate)
        present_tasks, strength = self._labels(stack)
        target_present, target_strength = self._labels(target)
        # ``task``: what a one-hot guidance is told, the first degradation the prompt names.
        return {
            "lq": lq,
            "gt": gt,
            "task": self.task_ids[named[0]],
            "prompt": prompt,
            "name": name,
            "degradations": ",".join(present),
            "named": ",".join(named),
            "present": present_tasks,
            "strength": strength,
            "target_present": target_present,
            "target_strength": target_strength,
        }

    def _labels(self, stack: Stack) -> tuple[torch.Tensor, torch.Tensor]:
        """What the image of ``stack`` has, per task in id order: whether each degradation is there (T,),
        0 or 1 (a layer left at strength 0 is not), NaN where one is hidden by those over it
        (:meth:`~tpir.data.composite.Stack.hidden` below ``visible``); and its strength (T,), the number of a
        synthetic layer of a task declared with ``partial_removal``, NaN where unknown or hidden."""
        present = torch.zeros(len(self.task_ids))
        strength = torch.full((len(self.task_ids),), float("nan"))
        if stack.real is not None:
            present[self.task_ids[stack.real[0]]] = 1.0
        for layer in stack.layers:
            number = stated_number(layer.params)
            if number is not None and number <= 0:
                continue
            present[self.task_ids[layer.task]] = 1.0
            if get_task(layer.task).partial_removal and number is not None:
                strength[self.task_ids[layer.task]] = number
        if self.visible > 0 and len(stack.tasks) > 1:
            for task in stack.hidden(self.visible):
                if present[self.task_ids[task]] == 1.0:
                    present[self.task_ids[task]] = strength[self.task_ids[task]] = float("nan")
        return present, strength


def stated_number(params: Any) -> float | None:
    """The strength a prompt can state for these parameters (``params.number``), or None when they have
    none (a motion blur)."""
    return getattr(params, "number", None)


class EvaluationSet(Dataset):
    """A fixed evaluation set of one task: sample ``i`` is the same on every call (seeded by ``i``).

    Args:
        name: name of the set (``CBSD68_sigma25``, ``Rain100L``), carried by each sample as ``set``.
        source: the pairs.
        task: task name; ``task_id`` its integer id.
        prompts: sentences the prompt of each sample is drawn from (the corpus's test split).
        seed: base seed of degradations and prompt draws.
        crop: side of a centre crop for speed, or None for whole images.
    """

    def __init__(
        self,
        name: str,
        source: PairSource,
        task: str,
        task_id: int,
        prompts: Sequence[str],
        seed: int,
        crop: int | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.task = task
        self.task_id = task_id
        self.prompts = list(prompts)
        self.seed = seed
        self.crop = crop

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        lq, gt = self.source.pair(index, generator, None)
        if self.crop is not None:
            lq, gt = (centre_crop(x, self.crop) for x in (lq, gt))
        prompt = pick(self.prompts, generator)
        return {
            "lq": lq,
            "gt": gt,
            "task": self.task_id,
            "prompt": prompt,
            "name": self.source.name(index),
            "set": self.name,
        }


def centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre size x size window of (..., H, W) (the whole side where it is shorter)."""
    height, width = image.shape[-2:]
    top, left = max(height - size, 0) // 2, max(width - size, 0) // 2
    return image[..., top : top + size, left : left + size]
