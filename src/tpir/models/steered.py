"""The steered model: the backbone, where its Z comes from, and the estimator that steers its output.

Training (:class:`~tpir.models.lit_module.RestorationLitModule`) and inference
(:class:`~tpir.inference.restorer.Restorer`) both hold one :class:`SteeredModel` and restore through it,
so a prompt is planned and steered in one place (:meth:`SteeredModel.plans`, :meth:`SteeredModel.forward`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from tpir.models.backbone import TextGuidedBackbone
from tpir.models.estimator import DegradationEstimator
from tpir.models.guidance import Guidance, TextGuidance
from tpir.models.steering import Plan, plan, steer

# The backbone's output for one image (1, 3, H, W) and one prompt, unsteered, clamped to [0, 1]: what a
# plan measures again once a found degradation is removed (:func:`tpir.models.steering.uncover`).
RestoreOne = Callable[[torch.Tensor, str], torch.Tensor]


class SteeredModel(nn.Module):
    """Backbone + guidance (+ degradation estimator): restores images as prompts say.

    Without an estimator, the output is the backbone's for the prompts as written. With one, each image
    is measured first, and the prompt's parse and the measurement decide what the backbone is asked and
    how much of its change is kept (:mod:`tpir.models.steering`).

    Args:
        backbone: the restoration network, built with ``guidance_dim=guidance.dim``.
        guidance: where Z comes from.
        estimator: measures what each image has; needs a guidance that parses prompts
            (``TextGuidance(parsed_tasks=...)``).

    Raises:
        ValueError: an estimator beside a guidance that parses no prompts.
    """

    def __init__(
        self,
        backbone: TextGuidedBackbone,
        guidance: Guidance,
        estimator: DegradationEstimator | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.guidance = guidance
        self.estimator = estimator
        if estimator is not None and not self.parses_prompts:
            raise ValueError(
                "module.estimator steers by what the prompt names, so it needs a guidance that parses "
                "prompts (guidance.parsed_tasks, as degradation=composite sets)."
            )

    @property
    def parses_prompts(self) -> bool:
        """Whether the guidance parses prompts (what a plan reads)."""
        return isinstance(self.guidance, TextGuidance) and self.guidance.parser is not None

    def restore_as_written(
        self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor
    ) -> torch.Tensor:
        """The backbone's output (B, 3, H, W) for ``lq`` (B, 3, H, W) in [0, 1] and ``prompts`` (B strings)
        or ``task_ids`` (B,) as they are: all of what they name removed, whatever the image has. Training
        teaches this; :meth:`forward` steers it."""
        return self.backbone(lq, self.guidance(prompts, task_ids))

    @torch.no_grad()
    def plans(
        self,
        lq: torch.Tensor,
        prompts: Sequence[str],
        task_ids: torch.Tensor,
        restore: RestoreOne | None = None,
    ) -> list[Plan] | None:
        """The plan of each image of ``lq`` (B, 3, H, W) in [0, 1] for its prompt (B strings); None for a
        model without an estimator.

        Args:
            lq: the degraded images.
            prompts: one per image.
            task_ids: (B,), each image's task id (what a one-hot guidance reads).
            restore: the backbone's output for one image and a prompt (default: :meth:`restore_as_written`
                with that image's task id, clamped); the restorer passes its tiled forward. An image the
                estimator measures on windows (a large one) is restored window by window for that.
        """
        if self.estimator is None:
            return None
        estimate = self.estimator(lq)
        plans = []
        for index, prompt in enumerate(prompts):
            image = lq[index : index + 1]
            one = restore or self._restore_one(task_ids[index : index + 1])

            def remeasure(text: str, image: torch.Tensor = image, one: RestoreOne = one):
                return self.estimator(image, through=lambda view: one(view, text))

            plans.append(
                plan(
                    prompt,
                    self.guidance.parse(prompt),
                    estimate.row(index),
                    self.estimator,
                    self.guidance.lexicon,
                    remeasure,
                )
            )
        return plans

    def _restore_one(self, task_id: torch.Tensor) -> RestoreOne:
        return lambda image, text: self.restore_as_written(image, [text], task_id).clamp(0, 1)

    def forward(self, lq: torch.Tensor, prompts: Sequence[str], task_ids: torch.Tensor) -> torch.Tensor:
        """Restore ``lq`` (B, 3, H, W), RGB in [0, 1], as told by ``prompts`` (B strings) or ``task_ids``
        (B,); with an estimator, steered by what each image is found to have. Returns (B, 3, H, W)."""
        plans = self.plans(lq, prompts, task_ids)
        if plans is None:
            return self.restore_as_written(lq, prompts, task_ids)
        restored = self.restore_as_written(lq, [p.prompt for p in plans], task_ids)
        return steer(lq, restored, torch.tensor([p.share for p in plans]))
