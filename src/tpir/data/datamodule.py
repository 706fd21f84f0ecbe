"""The DataModule that serves stage 2's data: the training mixture, a validation set per task, the test sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
from torch.utils.data import DataLoader
from typing_extensions import override

from tpir.data.catalogs import DataCatalog
from tpir.data.evaluation_sets import EvaluationSet, naming_prompts
from tpir.data.mixture import TaskMixture, task_cycle
from tpir.data.prompting import PromptMix, PromptWriter
from tpir.data.sampling import DataPosition, EpochKeys
from tpir.data.sources import PairSource
from tpir.data.tasks import TASKS, knows_set, set_tasks
from tpir.text.corpus import BLIND_CATEGORY, InstructionCorpus


class RestorationDataModule(L.LightningDataModule):
    """Training mixture of the chosen tasks, a validation set per task, the test sets of those tasks
    (``test_sets``, scored after training by ``tpir.evaluation``, as ``tpir-eval`` scores them).

    Args:
        catalog: where the images come from (``data`` config group).
        tasks: the tasks trained together (``degradation`` config group), e.g. denoise and derain.
        corpus: instruction corpus; training prompts come from its train split, evaluation prompts
            from its test split.
        crop_size: side of the training crops.
        batch_size: training batch size (evaluation runs one image at a time, whole).
        samples_per_epoch: length of a training epoch.
        task_shares: per task, how many turns it has in the cycle of training tasks (1 where not given;
            ``{deblur: 2}`` trains twice as many blurred samples as each other task's).
        mix: the shares of composite images and of each kind of training prompt (``PromptMix`` fields).
        rotate: augment with quarter turns besides flips (all 8 dihedral transforms).
        val_crop: centre crop of validation images, for speed; None keeps them whole.
        seed: seed of the training samples and of the fixed evaluation sets.
        num_workers: DataLoader workers.
        visible: a degradation of a composite whose change is below this share of that of the ones
            stacked over it is hidden from the degradation estimator's labels (``TaskMixture``).

    Its state (saved by Lightning in every checkpoint) is where the training data stands: a run resumed
    from a checkpoint trains on the same samples, in the same order, as a straight run.
    """

    def __init__(
        self,
        catalog: DataCatalog,
        tasks: Sequence[str],
        corpus: InstructionCorpus,
        crop_size: int = 128,
        batch_size: int = 6,
        samples_per_epoch: int = 1200,
        task_shares: Mapping[str, int] | None = None,
        mix: Mapping[str, object] | PromptMix | None = None,
        rotate: bool = True,
        val_crop: int | None = None,
        seed: int = 0,
        num_workers: int = 0,
        visible: float = 0.0,
    ) -> None:
        super().__init__()
        unknown = [t for t in tasks if t not in TASKS or t not in catalog.train]
        if unknown or not tasks:
            raise ValueError(
                f"degradation.tasks={list(tasks)}; expected a non-empty subset of the declared tasks "
                f"({', '.join(TASKS)})."
            )
        self.catalog = catalog
        self.tasks = list(tasks)
        self.task_ids = {task: index for index, task in enumerate(self.tasks)}
        self.corpus = corpus
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.samples_per_epoch = samples_per_epoch
        self.task_shares = dict(task_shares or {})
        task_cycle(self.tasks, self.task_shares)  # a wrong share is named now, not at setup
        self.mix = PromptMix.from_config(mix or {})
        self.rotate = rotate
        self.val_crop = val_crop
        self.seed = seed
        self.num_workers = num_workers
        self.visible = visible
        self._resume_at: DataPosition | None = None

    def _evaluation_set(self, name: str, task: str, source: PairSource, crop: int | None) -> EvaluationSet:
        prompts = naming_prompts(self.corpus, task)
        task_id = self.task_ids[set_tasks(task)[0]]
        return EvaluationSet(name, source, task, task_id, prompts, self.seed, crop)

    @override
    def setup(self, stage: str | None = None) -> None:
        """Build the sets; before fitting, check that validation and test images differ and read every
        image, so an unreadable file is named now, not when first sampled hours in."""
        if self.mix.blind > 0 and BLIND_CATEGORY not in self.corpus.categories:
            raise ValueError("datamodule.mix.blind > 0 needs the corpus's 'blind' category.")
        if stage == "fit":
            self.catalog.check_validation_is_not_test()
            self.catalog.preload(self.tasks)
        self.train_set = TaskMixture(
            {task: self.catalog.train[task] for task in self.tasks},
            PromptWriter(self.corpus, "train"),
            self.task_ids,
            self.crop_size,
            self.samples_per_epoch,
            mix=self.mix,
            rotate=self.rotate,
            seed=self.seed,
            shares=self.task_shares,
            visible=self.visible,
        )
        self.val_sets = [self._evaluation_set(t, t, self.catalog.val[t], self.val_crop) for t in self.tasks]
        self.test_sets = [
            self._evaluation_set(name, task, source, None)
            for name, (task, source) in self.catalog.test.items()
            if knows_set(self.tasks, task)
        ]

    def evaluation_set_names(self, split: str) -> list[str]:
        """Names of the ``val`` or ``test`` sets, in loader order."""
        return [s.name for s in (self.val_sets if split == "val" else self.test_sets)]

    @override
    def train_dataloader(self) -> DataLoader:
        """Batches of this rank's share of each epoch's keys (``EpochKeys``); after a checkpoint is loaded,
        starting where it stopped."""
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        keys = EpochKeys(len(self.train_set), self.seed, self.batch_size, rank, world)
        if self._resume_at is not None:
            keys.resume(self._resume_at)
            self._resume_at = None
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=keys,
            num_workers=self.num_workers,
            drop_last=True,
            persistent_workers=self.num_workers > 0,
        )

    @override
    def state_dict(self) -> dict[str, Any]:
        """Where the training data stands, as the trainer counts it (batches trained in this epoch): what
        Lightning saves of the datamodule in a checkpoint."""
        trainer = self.trainer
        if trainer is None:
            return {}
        trained = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return {"train_position": DataPosition(trainer.current_epoch, trained).to_dict()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume the training data at the checkpoint's position (applied to the next training loader)."""
        if "train_position" in state_dict:
            self._resume_at = DataPosition.from_dict(state_dict["train_position"])

    def _evaluation_loaders(self, sets: Sequence[EvaluationSet]) -> list[DataLoader]:
        return [DataLoader(s, batch_size=1, num_workers=self.num_workers) for s in sets]

    @override
    def val_dataloader(self) -> list[DataLoader]:
        return self._evaluation_loaders(self.val_sets)
