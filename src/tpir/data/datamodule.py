"""Where stage 2's images come from (a catalog per ``data`` config) and the DataModule that serves them."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from tpir.data.datasets import (
    EvaluationSet,
    ImageBank,
    PairSource,
    RealPairs,
    SyntheticPairs,
    TaskMixture,
    task_cycle,
)
from tpir.data.layout import check_root, clean_test_sets, clean_train_images, task_test_sets, train_pairs
from tpir.data.photos import PhotoError
from tpir.data.prompting import PromptMix, PromptWriter
from tpir.data.sampling import DataPosition, EpochKeys
from tpir.data.tasks import TASKS, Task
from tpir.text.corpus import BLIND_CATEGORY, InstructionCorpus

# Strength of validation and test sets of tasks with test levels, when test_levels does not name them.
DEFAULT_TEST_LEVELS = {"sigma": (25.0,)}


@dataclass
class DataCatalog:
    """The sources of one data configuration.

    Attributes:
        train: per task, (source, weight) pairs to draw training crops from.
        val: per task, a fixed-seed synthetic validation source (checkpoint selection).
        test: per set name, (task, source): the test sets reported at the end of training.
    """

    train: dict[str, list[tuple[PairSource, float]]]
    val: dict[str, PairSource]
    test: dict[str, tuple[str, PairSource]] = field(default_factory=dict)

    def check_validation_is_not_test(self) -> None:
        """Raise ValueError naming a validation image that is also a test image: choosing the best checkpoint
        on test images would report a score tuned on the test set."""
        tested = {image: name for name, (_, source) in self.test.items() for image in source.images()}
        for task, source in self.val.items():
            shared = [image for image in source.images() if image in tested]
            if shared:
                raise ValueError(
                    f"the {task} validation set uses {shared[0]}, which is also in test set "
                    f"{tested[shared[0]]!r} ({len(shared)} shared); validation images must not be test images."
                )

    def preload(self, tasks: Sequence[str]) -> None:
        """Read every image of ``tasks`` once, now (they stay in memory); raise PhotoError naming every
        unreadable one."""
        banks = [bank for task, source in self.test.values() if task in tasks for bank in source.banks()]
        banks += [bank for task in tasks for bank in self.val[task].banks()]
        banks += [bank for task in tasks for source, _ in self.train[task] for bank in source.banks()]
        failures = {}
        for bank in {id(bank): bank for bank in banks}.values():  # a bank shared by several sets, once
            failures |= bank.preload()
        if failures:
            listed = "; ".join(f"{path} ({reason})" for path, reason in list(failures.items())[:5])
            more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
            raise PhotoError(
                f"{len(failures)} image file(s) of this data config cannot be read: {listed}{more}. "
                "Fix or remove them; expected readable images."
            )


# The colour photographs scikit-image and scikit-learn ship, split once for all: training, validation
# (checkpoint selection) and test photos are three disjoint sets.
BUNDLED_TRAIN = (
    "skimage:astronaut.png",
    "skimage:hubble_deep_field.jpg",
    "skimage:ihc.png",
    "skimage:motorcycle_left.png",
    "skimage:motorcycle_right.png",
    "skimage:retina.jpg",
    "sklearn:flower.jpg",
)
BUNDLED_VAL = ("skimage:chelsea.png",)
BUNDLED_TEST = ("skimage:coffee.png", "skimage:rocket.jpg", "sklearn:china.jpg")


def bundled_path(key: str) -> Path:
    """The file of a bundled photograph (``skimage:coffee.png``, ``sklearn:china.jpg``) in its package."""
    package, file_name = key.split(":")
    if package == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent / file_name
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images" / file_name


@functools.cache
def bundled_image(key: str) -> torch.Tensor:
    """A bundled photograph (``skimage:coffee.png``, ``sklearn:china.jpg``) as (3, H, W) uint8."""
    package, file_name = key.split(":")
    if package == "skimage":
        import skimage.io

        array = skimage.io.imread(bundled_path(key))
    else:
        from sklearn.datasets import load_sample_image

        array = load_sample_image(file_name)
    return torch.from_numpy(np.array(array[..., :3], copy=True)).permute(2, 0, 1).contiguous()


def _bank(keys: Sequence[str]) -> ImageBank:
    return ImageBank([bundled_image(k) for k in keys], names=[k.split(":")[1] for k in keys])


def _levels(task: Task, test_levels: Mapping[str, Sequence[float]]) -> list[float]:
    """The fixed strengths a leveled task is tested at (the first one also validates it)."""
    levels = test_levels.get(task.name, DEFAULT_TEST_LEVELS.get(task.test_level or ""))
    if not levels:
        raise ValueError(
            f"data.test_levels names no strength for task {task.name!r}; add e.g. {task.name}: [1]."
        )
    return [float(level) for level in levels]


def _degraded_sets(
    name: str, task: Task, bank: ImageBank, test_levels: Mapping[str, Sequence[float]]
) -> dict[str, tuple[str, PairSource]]:
    """Test sets of a task's synthetic degradation of clean images: ``<name>_sigma25`` once per strength of
    a leveled task, ``<name>_gauss2`` once per declared synthetic test, else ``name`` (drawn parameters)."""
    if task.synthetic_tests:
        return {
            f"{name}_{suffix}": (task.name, SyntheticPairs(bank, task.name, params))
            for suffix, params in task.synthetic_tests
        }
    if task.test_level is None:
        return {name: (task.name, SyntheticPairs(bank, task.name))}
    return {
        f"{name}_{task.level_name(level)}": (
            task.name,
            SyntheticPairs(bank, task.name, task.params_at_level(level)),
        )
        for level in _levels(task, test_levels)
    }


def _validation_sources(bank: ImageBank, test_levels: Mapping[str, Sequence[float]]) -> dict[str, PairSource]:
    """A fixed-seed synthetic validation source per task: at its first test level where leveled, with its
    first synthetic test's parameters where it declares some."""

    def params(task: Task) -> object | None:
        if task.test_level is not None:
            return task.params_at_level(_levels(task, test_levels)[0])
        return task.synthetic_tests[0][1] if task.synthetic_tests else None

    return {task.name: SyntheticPairs(bank, task.name, params(task)) for task in TASKS.values()}


def bundled_catalog(test_levels: Mapping[str, Sequence[float]] | None = None) -> DataCatalog:
    """The bundled default: photographs degraded synthetically, every declared task.

    ``BUNDLED_VAL`` makes the validation sets (named by task), ``BUNDLED_TEST`` the test sets
    (``bundled_<task>``, ``bundled_denoise_sigma25``). ``test_levels`` gives the strengths of leveled
    tasks (default: sigma 25); validation uses the first.
    """
    test_levels = test_levels or {}
    train, val, test = _bank(BUNDLED_TRAIN), _bank(BUNDLED_VAL), _bank(BUNDLED_TEST)
    return DataCatalog(
        train={task: [(SyntheticPairs(train, task), 1.0)] for task in TASKS},
        val=_validation_sources(val, test_levels),
        test={
            name: item
            for task in TASKS.values()
            for name, item in _degraded_sets(f"bundled_{task.name}", task, test, test_levels).items()
        },
    )


def benchmark_catalog(
    root: str | Path,
    val_images: int = 8,
    source_weights: Mapping[str, Mapping[str, float]] | None = None,
    test_levels: Mapping[str, Sequence[float]] | None = None,
) -> DataCatalog:
    """The standard layout under ``root`` (see ``tpir.data.layout``).

    Training, per task: its synthetic degradation of the clean ``Train/Denoise`` images and its real pairs
    (``Train/<Task>/...``, when present), drawn with ``source_weights[task]`` (keys ``synthetic`` and
    ``real``; 1.0 each where not given). The last ``val_images`` clean images are held out as synthetic
    validation sets. Test: every ``test/<task>/<set>`` found, leveled tasks once per strength of
    ``test_levels`` (default: sigma 25); and for tasks that declare synthetic tests, each clean test set of
    the leveled tasks (CBSD68) degraded by each of them (``CBSD68_gauss2``).

    Raises:
        DataLayoutError: ``root`` is missing or does not follow the layout.
        ValueError: a task has no training source of positive weight.
    """
    root = check_root(root)
    source_weights, test_levels = source_weights or {}, test_levels or {}
    clean = clean_train_images(root)
    if len(clean) <= val_images:
        raise ValueError(
            f"{root}/Train/Denoise has {len(clean)} images; need more than val_images={val_images}."
        )
    train_bank, val_bank = ImageBank(clean[:-val_images]), ImageBank(clean[-val_images:])
    train: dict[str, list[tuple[PairSource, float]]] = {}
    test: dict[str, tuple[str, PairSource]] = {}
    # One bank per clean test set, shared by every set degraded from it (read once, kept once).
    clean_banks = {name: ImageBank(images) for name, images in clean_test_sets(root).items()}
    for task in TASKS.values():
        weights = {"synthetic": 1.0, "real": 1.0, **source_weights.get(task.name, {})}
        pairs = train_pairs(root, task)
        sources: list[tuple[PairSource, float]] = []
        if weights["synthetic"] > 0:
            sources.append((SyntheticPairs(train_bank, task.name), weights["synthetic"]))
        if pairs and weights["real"] > 0:
            sources.append((RealPairs(pairs), weights["real"]))
        if not sources:
            raise ValueError(
                f"task {task.name!r} has no training source: data.source_weights.{task.name} gives the "
                f"synthetic one weight 0 and there are no real pairs in {root}/Train/{task.train_folder}."
            )
        train[task.name] = sources
        for name, items in task_test_sets(root, task).items():
            if task.test_level is None:
                test[name] = (task.name, RealPairs(items))
            else:
                test |= _degraded_sets(name, task, clean_banks[name], test_levels)
        if task.synthetic_tests:
            for name, bank in clean_banks.items():
                test |= _degraded_sets(name, task, bank, test_levels)
    return DataCatalog(train=train, val=_validation_sources(val_bank, test_levels), test=test)


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
        prompts = self.corpus.sentences("test", task)
        return EvaluationSet(name, source, task, self.task_ids[task], prompts, self.seed, crop)

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
            if task in self.tasks
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
