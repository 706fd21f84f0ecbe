"""The training data of stage 2: a seeded mixture of tasks, single or stacked, each sample with a prompt
that names some of its degradations and the target that prompt asks for (the prompt policy of
:class:`TaskMixture`; the sentences come from :mod:`tpir.data.prompting`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from tpir.data.batch import TrainingSample
from tpir.data.composite import Stack, physical_order, stack_layers
from tpir.data.degradations.realistic import add_realistic_degradations
from tpir.data.prompting import PromptMix, PromptWriter, pick
from tpir.data.sampling import mixed_seed
from tpir.data.sources import PairSource
from tpir.data.tasks import REALISTIC_TASKS, get_task
from tpir.data.transforms import random_dihedral


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
    a prompt and the target that prompt asks for: each a :class:`~tpir.data.batch.TrainingSample`.

    The tasks take turns in a fixed cycle in which a task of share ``n`` has ``n`` turns, one per round
    (``denoise, derain, deblur`` with shares ``{deblur: 2}``: ``denoise, derain, deblur, deblur``; with
    ``{denoise: 2}``: ``denoise, derain, deblur, denoise``). Sample ``i`` has the degradation of turn
    ``i % len(cycle)``; with ``mix.composite`` one or two more of the tasks are stacked on it in physical
    order (``tpir.data.composite``); with ``mix.realistic`` the clean image of the turn's source is degraded
    by the realistic chain instead (:meth:`_realistic`). The earliest degradation comes from one of its task's sources, drawn
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
            names a task that is not trained or gives it no positive integer; ``mix.realistic`` is set and
            a task of the chain is not trained.
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
        missing = [task for task in REALISTIC_TASKS.values() if task not in self.tasks]
        if self.mix.realistic > 0 and missing:
            raise ValueError(
                f"datamodule.mix.realistic={self.mix.realistic} needs the tasks of the realistic chain; "
                f"{', '.join(missing)} not trained (degradation.tasks)."
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

    def _base(self, task: str, generator: torch.Generator) -> tuple[torch.Tensor | None, torch.Tensor, str]:
        """A crop of a source of ``task``, drawn by weight: (its real degraded image or None, its clean
        image, its name)."""
        options = self.sources[task]
        weights = torch.tensor([weight for _, weight in options], dtype=torch.float)
        source = options[int(torch.multinomial(weights, 1, generator=generator))][0]
        item = int(torch.randint(len(source), (1,), generator=generator))
        return *source.base(item, generator, self.crop_size), source.name(item)

    def _stack(self, present: list[str], generator: torch.Generator) -> tuple[Stack, str]:
        """The degraded image: its earliest degradation from a source of its task, the rest synthetic."""
        real, clean, name = self._base(present[0], generator)
        synthetic = present[1:] if real is not None else present
        layers = stack_layers(synthetic, generator, sample_params=self._params)
        return Stack(clean, layers, None if real is None else (present[0], real)), name

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

    def __getitem__(self, key: int) -> TrainingSample:
        """The sample of ``key`` (an index in ``range(length)`` is epoch 0's)."""
        index = key % self.length
        generator = torch.Generator().manual_seed(mixed_seed(self.seed, key))
        if self.mix.realistic > 0 and float(torch.rand(1, generator=generator)) < self.mix.realistic:
            return self._realistic(index, generator)
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
            "named": self._named(named),
            "present": present_tasks,
            "strength": strength,
            "target_present": target_present,
            "target_strength": target_strength,
        }

    def _realistic(self, index: int, generator: torch.Generator) -> TrainingSample:
        """A clean crop of the turn's source degraded by the realistic chain; the prompt asks to remove
        everything (blind, with ``mix.blind``) or names the chain's four tasks and, with ``mix.absent``,
        each other one: the target is the clean crop.

        The estimator's labels say the chain's degradations are there where they are evident
        (:meth:`~tpir.data.degradations.realistic.RealisticParams.evident`), unknown (NaN) where faint;
        strengths are unknown."""
        _, clean, name = self._base(self.cycle[index % len(self.cycle)], generator)
        degraded, chain = add_realistic_degradations(clean, generator)
        chain_tasks = physical_order(list(REALISTIC_TASKS.values()))
        if float(torch.rand(1, generator=generator)) < self.mix.blind:
            named, prompt = list(self.tasks), self.writer.blind(generator)
        else:
            absent = [t for t in self.tasks if t not in chain_tasks]
            extra = [t for t in absent if float(torch.rand(1, generator=generator)) < self.mix.absent]
            named = physical_order([*chain_tasks, *extra])
            prompt = self.writer.write(named, None, generator)
        lq, gt = random_dihedral([degraded, clean], generator, self.rotate)
        present = torch.zeros(len(self.task_ids))
        for family, evident in chain.evident().items():
            present[self.task_ids[REALISTIC_TASKS[family]]] = 1.0 if evident else float("nan")
        unknown = torch.full((len(self.task_ids),), float("nan"))
        return {
            "lq": lq,
            "gt": gt,
            "task": self.task_ids[named[0]],
            "prompt": prompt,
            "name": name,
            "degradations": ",".join(chain_tasks),
            "named": self._named(named),
            "present": present,
            "strength": unknown,
            "target_present": torch.zeros(len(self.task_ids)),
            "target_strength": unknown.clone(),
        }

    def _named(self, named: Sequence[str]) -> torch.Tensor:
        """Which tasks the prompt names for removal, (T,) bool in task id order."""
        flags = torch.zeros(len(self.task_ids), dtype=torch.bool)
        flags[[self.task_ids[task] for task in named]] = True
        return flags

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
