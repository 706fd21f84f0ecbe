"""What the backbone is asked and how much of its change is kept: the prompt's reading meets the image's
estimate (:class:`~tpir.models.estimator.DegradationEstimator`).

The backbone is trained to remove what a prompt names, all of it. The numbers and the blind prompts act
here, where they can be measured against the image:

- **which is there**: the change is kept by the chance that a degradation the prompt names is present
  (:func:`presence_share`: all of it once found, none below :data:`ABSENT`), so a prompt naming what the
  image lacks leaves it as it is (the paper's Fig. 7), as does one naming only degradations the model
  was not trained for ("sharpen it" to a model without deblurring);
- **how much**: a prompt that names one measured degradation with a number ("denoise with sigma 10")
  keeps about ``number / estimated strength`` of the change (:func:`number_share`): less than all of it
  for a smaller number, more (an extrapolation past the estimate) for a larger one;
- **blind** ("remove all degradation"): the prompt is taken to name what the estimate finds (presence of
  at least :data:`FOUND`) but the kept ones, and the backbone reads "remove the rain and the noise";
  with nothing found, the image is left as it is.

A mean-pooled sentence embedding hardly moves between "sigma 15" and "sigma 50". A number given to the backbone beside Z can only be trained up to the strength there
("sigma 10" on sigma 25 has a target; "sigma 50" on sigma 25 has none), so it cannot say what a larger
number means, and "10 of 25" needs the 25 too. Measuring the strength makes the number a ratio with a
meaning on both sides of the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from tpir.models.estimator import DegradationEstimator, Estimate
from tpir.text.lexicon import Lexicon
from tpir.text.parsing import ParsedPrompt

# A degradation whose presence is at least this is found (what a blind prompt removes).
FOUND = 0.5
# A degradation whose presence is at most this is taken as absent: a prompt naming it alone keeps nothing
# of the change (presence_share): above the presence an estimator reads on images without the
# degradation, below the one it reads on images with it (the results pages give the figures).
ABSENT = 0.2
# A stated number within this fraction of the estimated strength counts as that strength (see
# number_share). Smaller than the step between neighbouring numbers of the strength sweep (35/25 = 1.4 >
# 1.15^2), so no two of them fall in the band.
NUMBER_TOLERANCE = 0.15
# Strengths below this count as this (a measured degradation estimated at nothing still divides).
_SMALLEST_STRENGTH = 1e-3


@dataclass(frozen=True)
class Plan:
    """What to do to one image for one prompt.

    Attributes:
        prompt: what the backbone reads: the prompt itself, or, for a blind prompt, one that names what
            was found.
        share: how much of the backbone's change is kept: ``input + share * (restored - input)``.
        found: the degradations the estimate finds, with their presence and, for measured ones, strength.
    """

    prompt: str
    share: float
    found: dict[str, tuple[float, float | None]]

    def summary(self, text: str) -> str:
        """One line for people: what was found, and what is done about it for the prompt ``text``."""
        found = ", ".join(
            f"{task} ({presence:.2f}{'' if strength is None else f', strength {strength:.3g}'})"
            for task, (presence, strength) in self.found.items()
        )
        line = f"found: {found or 'nothing'}"
        if self.prompt != text:
            line += f'; restoring as "{self.prompt}"'
        return f"{line}; keeping {self.share:.2f} of the change"


def plan(
    prompt: str,
    reading: ParsedPrompt,
    estimate: Estimate,
    estimator: DegradationEstimator,
    lexicon: Lexicon,
    remeasure: Callable[[str], Estimate] | None = None,
) -> Plan:
    """The plan for one image (``estimate`` of shape (1, T), by ``estimator``) and one prompt (``reading``).

    With ``remeasure`` (a prompt -> the estimate of the image after the backbone removes what it names) and
    an estimator that knows its tasks' physical order, a degradation the prompt asks about that lies under
    one that is found is measured again with that one removed (:func:`uncover`).
    """
    tasks, measured, order = estimator.tasks, estimator.measured, estimator.order
    presence = dict(zip(tasks, estimate.presence[0].tolist(), strict=True))
    strength = dict(zip(tasks, estimate.strength[0].tolist(), strict=True))
    if remeasure is not None and set(order) == set(tasks):
        uncover(presence, strength, reading.removes(tasks), reading.blind, remeasure, lexicon, order)
    found = {
        task: (presence[task], strength[task] if task in measured else None)
        for task in tasks
        if presence[task] >= FOUND
    }
    if reading.blind:
        named = [task for task in found if task not in reading.kept]
        if not named:
            return Plan(prompt, 0.0, found)
        return Plan(lexicon.naming_prompt(named), 1.0, found)
    named = reading.removes(tasks)
    if not named:
        # Naming only degradations this model was not trained for leaves the image as it is; naming nothing
        # at all, the backbone does what it learned for such prompts.
        return Plan(prompt, 0.0 if reading.removed else 1.0, found)
    share = presence_share(max(presence[task] for task in named))
    numbers = [
        (task, reading.removed[task])
        for task in named
        if task in measured and reading.removed.get(task) is not None
    ]
    if len(named) == 1 and numbers:
        ((task, number),) = numbers
        share *= number_share(number / max(strength[task], _SMALLEST_STRENGTH))
    return Plan(prompt, share, found)


def uncover(
    presence: dict[str, float],
    strength: dict[str, float],
    asked: Sequence[str],
    blind: bool,
    remeasure: Callable[[str], Estimate],
    lexicon: Lexicon,
    order: Sequence[str],
) -> None:
    """Measure again, in place, the ``presence`` and ``strength`` of what lies under a found degradation.

    A degradation hides those under it in physical order (noise over rain over haze): under noise, an
    estimator reads rain and haze about as often as noisy training images have them, whatever is there;
    once the noise is removed, it reads them as on a clean image. So, while a found degradation lies over
    one that is ``asked`` about, the outermost of them is removed (with those removed before) and what
    lies under it is measured on the result: one backbone pass each.

    A prompt that names a degradation found with nothing found over it keeps all of the change whatever
    the rest, so it is measured once.

    Args:
        presence, strength: per task, from the first estimate; updated in place.
        asked: the tasks whose presence the plan reads: those the prompt names, or, for a blind prompt,
            every task it does not keep.
        blind: whether the prompt is blind.
        remeasure: a prompt -> the estimate of the image after the backbone removes what it names, (1, T).
        lexicon: writes the prompt that names what is removed.
        order: every task of ``presence``, in physical order (innermost first).
    """
    tasks = list(presence)
    layer = {task: order.index(task) for task in tasks}
    removed: list[str] = []

    def covers(over: str, under: str) -> bool:
        return presence[over] >= FOUND and layer[over] > layer[under]

    if not blind and any(
        presence[task] >= FOUND and not any(covers(other, task) for other in tasks) for task in asked
    ):
        return
    while True:
        covering = [
            over
            for over in tasks
            if over not in removed and any(covers(over, under) for under in asked if under not in removed)
        ]
        if not covering:
            return
        outermost = max(covering, key=layer.__getitem__)
        removed.append(outermost)
        again = remeasure(lexicon.naming_prompt(sorted(removed, key=layer.__getitem__)))
        for index, task in enumerate(tasks):
            if layer[task] < layer[outermost]:
                presence[task] = float(again.presence[0, index])
                strength[task] = float(again.strength[0, index])


def presence_share(presence: float) -> float:
    """The share of the change kept for a named degradation of this ``presence``: none up to
    :data:`ABSENT`, all from :data:`FOUND` (as a blind prompt removes what is found), linear between."""
    return min(max((presence - ABSENT) / (FOUND - ABSENT), 0.0), 1.0)


def number_share(ratio: float) -> float:
    """The share of the change kept for a stated number ``ratio`` times the estimated strength.

    Within :data:`NUMBER_TOLERANCE` of the estimate (the estimator's typical error) the number is taken as
    the strength there, and all of the change is kept; further off, the share is proportional to the
    number, continuous at the edges of that band: ``ratio * (1 + t)`` below it, ``ratio / (1 + t)`` above.
    """
    widest = 1.0 + NUMBER_TOLERANCE
    if ratio * widest < 1.0:
        return ratio * widest
    return max(ratio / widest, 1.0)


def steer(lq: torch.Tensor, restored: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """``lq + shares * (restored - lq)``, clamped to [0, 1].

    Args:
        lq: the degraded images, (B, 3, H, W) in [0, 1].
        restored: the backbone's outputs, (B, 3, H, W).
        shares: how much of each image's change is kept, (B,).
    """
    shares = shares.to(restored.device, torch.float32).view(-1, 1, 1, 1)
    return (lq.float() + shares * (restored.float() - lq.float())).clamp(0, 1)
