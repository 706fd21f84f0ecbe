"""After stage 2: the degradation estimator fitted again, alone, to the trained backbone's outputs.

Blind and wrong-task prompts measure the backbone's outputs (:func:`tpir.models.steering.uncover`), so the
estimator must read the outputs of the backbone that is exported. During training it learns from the
outputs of a backbone that is still changing, and reads degradations in denoised images that have none;
fitted again with that backbone frozen, on training crops, it reads the exported backbone's outputs.
What calibration changed in ``experiment=cpu_prompts`` is on the docs' results page for that preset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import move_data_to_device
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from tpir.models.lit_module import RestorationLitModule
from tpir.utils import atomic_path, load_checkpoint

ESTIMATOR_PREFIX = "model.estimator."
# Key of a checkpoint whose estimator was calibrated: {"loss": the final loss, "settings": the calibration's
# settings}. A finished run that is resumed finds it and does not fit that estimator again.
CALIBRATION_RECORD = "estimator_calibration"


def epochs(loader: DataLoader) -> Iterator[dict[str, Any]]:
    """The batches of ``loader``, epoch after epoch (its sampler told each epoch, so they differ)."""
    for epoch in count():
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        yield from loader


def calibrate_estimator(
    module: RestorationLitModule,
    batches: Iterable[dict[str, Any]],
    steps: int,
    lr: float,
    decay: float = 0.99,
    bf16: bool = False,
) -> float:
    """Fit ``module.model.estimator`` for ``steps`` training ``batches`` to the frozen backbone's outputs.

    The loss is the one of training (:meth:`RestorationLitModule.estimator_loss`); the estimator's weights end
    as their exponential moving average (``decay`` per step), as training's EMA callback keeps them.

    Args:
        module: the trained module, with an estimator; only its estimator changes.
        batches: training batches, as the datamodule gives them (at least ``steps`` of them).
        steps: optimizer steps.
        lr: the learning rate, held, of the module's optimizer (``module.optimizer``).
        decay: of the moving average of the weights.
        bf16: run the backbone under bf16 autocast, as a ``bf16-mixed`` run trained it.

    Returns:
        The mean estimator loss over the last tenth of the steps.
    """
    estimator = module.model.estimator
    averaged = AveragedModel(estimator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    optimizer = instantiate(module.hparams.optimizer)(estimator.parameters(), lr=lr)
    module.eval()
    estimator.train()
    device = module.device
    losses = []
    for _, batch in zip(range(steps), batches, strict=False):
        batch = move_data_to_device(batch, device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            restored = module.model.restore_as_written(batch["lq"], batch["prompt"], batch["task"])
        loss = module.estimator_loss(batch, restored)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        averaged.update_parameters(estimator)
        losses.append(loss.item())
    if len(losses) < steps:
        raise ValueError(f"calibration.steps={steps}, but the training data gave only {len(losses)} batches.")
    estimator.load_state_dict(averaged.module.state_dict())
    estimator.eval()
    tail = losses[-max(steps // 10, 1) :]
    return sum(tail) / len(tail)


def save_estimator(module: RestorationLitModule, checkpoint: Path, record: dict[str, Any]) -> None:
    """Replace the estimator's weights in ``checkpoint`` (written atomically) by ``module``'s, and keep
    ``record`` (the calibration's loss and settings) under :data:`CALIBRATION_RECORD`."""
    saved = load_checkpoint(checkpoint)
    weights = {ESTIMATOR_PREFIX + k: v.detach().cpu() for k, v in module.model.estimator.state_dict().items()}
    missing = sorted(set(weights) - set(saved["state_dict"]))
    if missing:
        raise ValueError(f"{checkpoint}: has no {missing[0]}; expected a checkpoint of this module.")
    saved["state_dict"].update(weights)
    saved[CALIBRATION_RECORD] = record
    with atomic_path(checkpoint) as partial:
        torch.save(saved, partial)
