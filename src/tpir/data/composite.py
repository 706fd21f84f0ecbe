"""Composite degradations: several degradations stacked on one image, rebuilt without any of them.

A :class:`Stack` holds a clean image, optionally a real degraded version of it (a real rainy photo with its
clean target), and synthetic :class:`Layer` s on top, in the physical order of their tasks' ``layer``
(haze, rain, blur or low light, noise, JPEG). Each layer keeps its parameters and its own seed, so
:meth:`Stack.left` rebuilds the image with any subset of the degradations from the same numbers and the
same randomness: the target of "remove the rain" on rain + noise is the clean image with exactly the
same noise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from tpir.data.tasks import get_task


@dataclass(frozen=True)
class Layer:
    """One synthetic degradation of a stack.

    Attributes:
        task: the task whose degradation this is (``denoise`` adds noise).
        params: its parameters (the task's params dataclass).
        seed: seed of the generator it draws its randomness from, the same on every render.
    """

    task: str
    params: Any
    seed: int

    def apply(self, image: Tensor) -> Tensor:
        """``image`` (3, H, W) in [0, 1] with this degradation added."""
        degraded, _ = get_task(self.task).apply(image, torch.Generator().manual_seed(self.seed), self.params)
        return degraded


@dataclass(frozen=True)
class Stack:
    """A clean image with degradations stacked on it in physical order.

    Attributes:
        clean: the clean image, (3, H, W) RGB in [0, 1].
        layers: synthetic degradations, in physical order.
        real: a real degraded version of ``clean`` and the task of its degradation (a Rain100L pair:
            ``("derain", rainy)``), under the synthetic layers; None when every degradation is synthetic.
    """

    clean: Tensor
    layers: tuple[Layer, ...] = ()
    real: tuple[str, Tensor] | None = None

    def __post_init__(self) -> None:
        tasks = self.tasks
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"a stack has each degradation once, got {list(tasks)}.")
        order = [get_task(task).layer for task in tasks]
        if order != sorted(order):
            raise ValueError(f"degradations {list(tasks)} are not in physical order (task layers {order}).")

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks of the degradations present, in physical order."""
        return ((self.real[0],) if self.real else ()) + tuple(layer.task for layer in self.layers)

    @property
    def degraded(self) -> Tensor:
        """The image with every degradation, (3, H, W): the real base (else the clean image), then each
        layer in physical order. Rendered once per stack; do not change it in place."""
        return self._rendered[0]

    @cached_property
    def _rendered(self) -> tuple[Tensor, dict[str, float]]:
        """The degraded image, and each degradation's own change: the root mean square over pixels and
        colours of what it adds to the image under it."""
        image = self.clean
        changes = {}
        if self.real:
            changes[self.real[0]] = _rms(self.real[1] - self.clean)
            image = self.real[1]
        for layer in self.layers:
            after = layer.apply(image)
            changes[layer.task] = _rms(after - image)
            image = after
        return image, changes

    def hidden(self, visible: float) -> list[str]:
        """The degradations hidden by those stacked over them: each whose own change (root mean square
        over pixels and colours) is below ``visible`` times that of all the degradations over it together.

        Rain of density 1 changes a 64-pixel CBSD68 crop by about 15 on 0-255 (density 0.3: 7; haze of
        thickness 0.3: 15); noise of sigma 50 changes it by about 50. The outermost degradation is never
        hidden; ``visible`` 0 hides none.
        """
        changes = self._rendered[1]
        tasks = list(changes)
        return [
            task
            for index, task in enumerate(tasks)
            if changes[task] < visible * sum(changes[over] ** 2 for over in tasks[index + 1 :]) ** 0.5
        ]

    def without(self, removed: Collection[str], partly: Mapping[str, float] | None = None) -> Tensor:
        """The target of a prompt that removes ``removed``: the image rebuilt with the other degradations
        (:meth:`left`'s image).

        Tasks the image does not have are ignored, so a prompt naming an absent degradation has the
        input itself as its target (the paper's Fig. 7).
        """
        return self.left(removed, partly).degraded

    def left(self, removed: Collection[str], partly: Mapping[str, float] | None = None) -> Stack:
        """What is left once a prompt removes ``removed``: the same clean image, real base (unless removed)
        and layers with the same parameters and noise, without those of ``removed``.

        Args:
            removed: the tasks whose degradations go.
            partly: per synthetic layer of ``removed``, the strength a prompt asks to remove ("denoise with
                sigma 10" on noise of sigma 25): the layer stays at its strength minus that (sigma 15, the
                same noise scaled), at 0 when the prompt asks for as much as there is or more.
        """
        partly = partly or {}
        layers = tuple(
            replace(
                layer, params=layer.params.with_number(max(layer.params.number - partly[layer.task], 0.0))
            )
            if layer.task in removed
            else layer
            for layer in self.layers
            if layer.task not in removed or layer.task in partly
        )
        real = self.real if self.real and self.real[0] not in removed else None
        return Stack(self.clean, layers, real)


def physical_order(tasks: Sequence[str]) -> list[str]:
    """``tasks`` sorted by their place in a composite image (haze first, JPEG last)."""
    return sorted(tasks, key=lambda task: get_task(task).layer)


def stack_layers(
    tasks: Sequence[str],
    generator: torch.Generator,
    params: dict[str, Any] | None = None,
    sample_params: Callable[[str, torch.Generator], Any] | None = None,
) -> tuple[Layer, ...]:
    """Synthetic layers of ``tasks``, in physical order, each with its parameters and a seed drawn from
    ``generator``. Parameters ``params`` does not give are drawn by ``sample_params(task, generator)``
    (default: the task's own sampler)."""
    params = params or {}
    layers = []
    for task in physical_order(tasks):
        chosen = params.get(task)
        if chosen is None:
            chosen = (
                sample_params(task, generator) if sample_params else get_task(task).sample_params(generator)
            )
        layers.append(Layer(task, chosen, int(torch.randint(2**62, (1,), generator=generator))))
    return tuple(layers)


def _rms(change: Tensor) -> float:
    """The root mean square of ``change``."""
    return float(change.square().mean().sqrt())
