"""What every degradation's parameters share: the number a prompt states, and the draws that sample them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from typing_extensions import Self


@dataclass(frozen=True)
class DegradationParams:
    """The numbers of one degradation, frozen; a prompt states one of them, its strength ("denoise with
    sigma 25").

    A family declares which field the number sets (``stated``) and its numeric prompt (``prompt``, a format
    string of ``number``); it overrides :meth:`to_number` and :meth:`from_number` where the number is not
    that field's value itself (rain states its density on [0, 1]), so that the three methods a mixture and
    a composite use, :attr:`number`, :meth:`with_number` and :meth:`describe`, are written once.
    """

    stated: ClassVar[str]
    prompt: ClassVar[str]

    @property
    def number(self) -> float | None:
        """The strength a prompt states, on the benchmark's scale; None where prompts state none."""
        return self.to_number(getattr(self, self.stated))

    def with_number(self, number: float) -> Self:
        """The same degradation at the stated strength ``number``."""
        return replace(self, **{self.stated: self.from_number(number)})

    def describe(self) -> str:
        """The numeric prompt, e.g. ``"denoise with sigma 25"``."""
        return self.prompt.format(number=self.number)

    def to_number(self, value: Any) -> float | None:
        """The number a prompt states for the stated field's ``value``: the value itself."""
        return value

    def from_number(self, number: float) -> Any:
        """The stated field's value at the stated ``number``: the number as a float."""
        return float(number)


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """A number drawn uniformly in [low, high) from ``generator``."""
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def choice(generator: torch.Generator, options: Sequence[Any]) -> Any:
    """One of ``options``, drawn uniformly from ``generator``."""
    return options[int(torch.randint(len(options), (), generator=generator, device=generator.device))]
