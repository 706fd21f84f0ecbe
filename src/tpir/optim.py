"""Learning-rate schedules, built from config with ``_partial_: true``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup_steps: int, min_ratio: float = 0.0
) -> LambdaLR:
    """Linear warm-up from 0 to the base rate over ``warmup_steps``, then cosine decay to ``min_ratio``.
    A parameter group marked ``held`` (``{"params": ..., "held": True}``) is warmed up, then held at its
    rate.

    Args:
        optimizer: the optimizer whose rate is scheduled.
        total_steps: optimizer steps of the whole run (the module passes the trainer's estimate).
        warmup_steps: steps of the linear warm-up.
        min_ratio: final rate as a fraction of the base rate.
    """
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))

    def held(step: int) -> float:
        return min((step + 1) / (warmup_steps + 1), 1.0)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return held(step)
        progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, [held if group.get("held") else factor for group in optimizer.param_groups])


def configure_optimization(
    parameters: Iterable[nn.Parameter] | Sequence[dict[str, Any]],
    optimizer: Callable[..., Optimizer],
    scheduler: Callable[..., LRScheduler] | None,
    total_steps: int,
) -> Optimizer | dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns, from the partials of the config.

    Args:
        parameters: the parameters (those without gradients are left out), or parameter groups: dicts
            with ``params`` and what differs for them (``lr``; ``held``, see :func:`warmup_cosine`).
        optimizer: partial optimizer, called with ``params``.
        scheduler: partial schedule, called with the optimizer and ``total_steps``; None for a fixed rate.
        total_steps: optimizer steps of the run (``trainer.estimated_stepping_batches``).
    """
    groups = list(parameters)
    if not all(isinstance(group, dict) for group in groups):
        groups = [{"params": groups}]
    groups = [group | {"params": [p for p in group["params"] if p.requires_grad]} for group in groups]
    built = optimizer(params=[group for group in groups if group["params"]])
    if scheduler is None:
        return built
    schedule = scheduler(built, total_steps=int(total_steps))
    return {"optimizer": built, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
