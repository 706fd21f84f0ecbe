"""A callback that SIGKILLs its own ``tpir-train`` process at a chosen step, for the resume tests.

Polling ``last.ckpt`` from outside can miss a checkpoint on a busy machine (the next one overwrites it
within a fraction of a second); a kill from inside the process lands at the exact step, and it is still
a kill: no teardown, no final checkpoint, nothing flushed.
"""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback, LightningModule, Trainer


class KillAtStep(Callback):
    """Kill the process before the training batch that would take ``global_step`` past ``step``.

    By then the checkpoint of the validation at ``step`` has been written (``ModelCheckpoint`` saves at
    validation end, before the next batch starts).
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
