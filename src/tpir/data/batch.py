"""The samples and batches stage 2 trains on, every key with its shape, dtype and range.

:class:`~tpir.data.mixture.TaskMixture` gives :class:`TrainingSample` s; the DataLoader's default collation
stacks B of them into a :class:`TrainingBatch` (each tensor gains a leading B, an int becomes a (B,) int64
tensor, a string a list of B strings). ``T`` is the number of trained tasks; every per-task column is in
task id order, the order of ``degradation.tasks``, which the degradation estimator's tasks follow too.
:class:`~tpir.data.evaluation_sets.EvaluationSet` gives :class:`EvaluationSample` s.
"""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor


class TrainingBatch(TypedDict):
    """A batch of B training samples, each asking by its prompt to remove some of its degradations.

    Attributes:
        lq: the degraded images, (B, 3, H, W) float32, RGB in [0, 1].
        gt: the targets, (B, 3, H, W) float32 in [0, 1]: each image rebuilt without what its prompt names,
            with the same noise and streaks (clean for "remove all"; the input for a prompt naming only
            what the image lacks).
        task: (B,) int64, the id of the first task each prompt names: what a one-hot guidance is told.
        prompt: B instructions.
        name: B file names of the clean images.
        degradations: B lists of the tasks whose degradations the image has, in physical order, joined by
            commas (``"derain,denoise"``).
        named: (B, T) bool, per task, whether the prompt names it for removal; it may name a degradation
            the image lacks (which then stays lacking), and names every task for "remove all".
        present: (B, T) float32, per task, 1 where the image has the degradation, 0 where it has not (a layer
            left at strength 0 has not), NaN where it is hidden under those stacked over it
            (:meth:`~tpir.data.composite.Stack.hidden`).
        strength: (B, T) float32, per task declared with ``partial_removal``, the number of its synthetic
            layer (sigma on 0-255, rain density and haze thickness as prompts state them); NaN where the
            task has none, its degradation is real (unknown), or it is hidden.
        target_present: (B, T) float32, ``present`` of the targets.
        target_strength: (B, T) float32, ``strength`` of the targets (the rest of a degradation a prompt
            asked to remove only partly).
    """

    lq: Tensor
    gt: Tensor
    task: Tensor
    prompt: list[str]
    name: list[str]
    degradations: list[str]
    named: Tensor
    present: Tensor
    strength: Tensor
    target_present: Tensor
    target_strength: Tensor


class TrainingSample(TypedDict):
    """One row of a :class:`TrainingBatch`: the same keys without the leading B (``lq`` (3, H, W), ``named``
    (T,) bool, ``present`` (T,) ...), ``task`` an int, ``prompt``, ``name`` and ``degradations`` strings."""

    lq: Tensor
    gt: Tensor
    task: int
    prompt: str
    name: str
    degradations: str
    named: Tensor
    present: Tensor
    strength: Tensor
    target_present: Tensor
    target_strength: Tensor


class EvaluationSample(TypedDict):
    """One image of a fixed evaluation set (batched one at a time, whole).

    Attributes:
        lq: the degraded image, (3, H, W) float32, RGB in [0, 1].
        gt: its clean target, (3, H, W) float32 in [0, 1].
        task: the id of the set's task.
        prompt: an instruction of the task's category (the corpus's test split).
        name: the file name of the image.
        set: the name of the set (``CBSD68_sigma25``; a validation set is named by its task).
    """

    lq: Tensor
    gt: Tensor
    task: int
    prompt: str
    name: str
    set: str
