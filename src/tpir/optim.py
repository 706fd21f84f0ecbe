"""Learning-rate schedules, built from config with ``_partial_: true``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup_steps: int, min_ratio: float = 0.0
) -> LambdaLR:
    """Linear warm-up from 0 to the base rate over ``warmup_steps``, then cosine decay to ``min_ratio``.

    Args:
        optimizer: the optimizer whose rate is scheduled.
        total_steps: optimizer steps of the whole run (the module passes the trainer's estimate).
        warmup_steps: steps of the linear warm-up.
        min_ratio: final rate as a fraction of the base rate.
    """
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def configure_optimization(
    parameters: Iterable[nn.Parameter],
    optimizer: Callable[..., Optimizer],
    scheduler: Callable[..., LRScheduler] | None,
    total_steps: int,
) -> Optimizer | dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns, from the partials of the config.

    Args:
        parameters: the trainable parameters.
        optimizer: partial optimizer, called with ``params``.
        scheduler: partial schedule, called with the optimizer and ``total_steps``; None for a fixed rate.
        total_steps: optimizer steps of the run (``trainer.estimated_stepping_batches``).
    """
    built = optimizer(params=[p for p in parameters if p.requires_grad])
    if scheduler is None:
        return built
    schedule = scheduler(built, total_steps=int(total_steps))
    return {"optimizer": built, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
