"""Where stage 2's images come from (a catalog per ``data`` config) and the DataModule that serves them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from tpir.data.datasets import (
    TASK_DEGRADATION,
    EvaluationSet,
    ImageBank,
    PairSource,
    RealPairs,
    SyntheticPairs,
    TaskMixture,
)
from tpir.data.layout import (
    check_root,
    dehaze_train_pairs,
    denoise_test_sets,
    denoise_train_images,
    derain_train_pairs,
    paired_test_sets,
)
from tpir.text.corpus import BLIND_CATEGORY, InstructionCorpus

TASKS = tuple(TASK_DEGRADATION)


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


# The colour photographs scikit-image and scikit-learn ship, split once for all.
BUNDLED_TRAIN = (
    "skimage:astronaut.png",
    "skimage:chelsea.png",
    "skimage:hubble_deep_field.jpg",
    "skimage:ihc.png",
    "skimage:motorcycle_left.png",
    "skimage:motorcycle_right.png",
    "skimage:retina.jpg",
    "sklearn:flower.jpg",
)
BUNDLED_TEST = ("skimage:coffee.png", "skimage:rocket.jpg", "sklearn:china.jpg")


@functools.cache
def bundled_image(key: str) -> torch.Tensor:
    """A bundled photograph (``skimage:coffee.png``, ``sklearn:china.jpg``) as (3, H, W) uint8."""
    package, file_name = key.split(":")
    if package == "skimage":
        import skimage.data
        import skimage.io

        array = skimage.io.imread(Path(skimage.data.__file__).parent / file_name)
    else:
        from sklearn.datasets import load_sample_image

        array = load_sample_image(file_name)
    return torch.from_numpy(np.array(array[..., :3], copy=True)).permute(2, 0, 1).contiguous()


def _bank(keys: Sequence[str]) -> ImageBank:
    return ImageBank([bundled_image(k) for k in keys], names=[k.split(":")[1] for k in keys])


def bundled_catalog(eval_sigma: float = 25.0, test_sigmas: Sequence[float] | None = None) -> DataCatalog:
    """The bundled default: photographs degraded synthetically; the held-out ones are val and test sets.

    Denoising is validated and tested at ``eval_sigma``; ``test_sigmas`` tests it at each of several
    noise levels instead (sets ``bundled_denoise_sigma<s>``), as ``tpir-eval`` does.
    """
    train, held_out = _bank(BUNDLED_TRAIN), _bank(BUNDLED_TEST)
    sources = {
        task: SyntheticPairs(held_out, degradation, eval_sigma if degradation == "noise" else None)
        for task, degradation in TASK_DEGRADATION.items()
    }
    test = {f"bundled_{task}": (task, source) for task, source in sources.items()}
    if test_sigmas is not None:
        del test["bundled_denoise"]
        for sigma in test_sigmas:
            test[f"bundled_denoise_sigma{sigma:g}"] = ("denoise", SyntheticPairs(held_out, "noise", sigma))
    return DataCatalog(
        train={
            task: [(SyntheticPairs(train, degradation), 1.0)]
            for task, degradation in TASK_DEGRADATION.items()
        },
        val=sources,
        test=test,
    )


def benchmark_catalog(
    root: str | Path,
    val_images: int = 8,
    real_haze_weight: float = 0.2,
    synthetic_rain_weight: float = 0.0,
    test_sigmas: Sequence[float] = (25.0,),
) -> DataCatalog:
    """The standard layout under ``root`` (DESIGN.md section 5).

    Training: noise on ``Train/Denoise`` images; the real rain pairs (plus synthetic rain with
    ``synthetic_rain_weight``); synthetic haze on the clean images plus the real haze pairs with
    ``real_haze_weight``. The last ``val_images`` clean images are held out as synthetic validation sets.
    Test: every ``test/<task>/<set>`` found, denoising sets once per sigma of ``test_sigmas``.

    Raises:
        DataLayoutError: ``root`` is missing or does not follow the layout.
    """
    root = check_root(root)
    clean = denoise_train_images(root)
    if len(clean) <= val_images:
        raise ValueError(
            f"{root}/Train/Denoise has {len(clean)} images; need more than val_images={val_images}."
        )
    train_bank, val_bank = ImageBank(clean[:-val_images]), ImageBank(clean[-val_images:])
    rain: list[tuple[PairSource, float]] = [(RealPairs(derain_train_pairs(root)), 1.0)]
    if synthetic_rain_weight > 0:
        rain.append((SyntheticPairs(train_bank, "rain"), synthetic_rain_weight))
    haze: list[tuple[PairSource, float]] = [(SyntheticPairs(train_bank, "haze"), 1.0)]
    if real_haze_weight > 0 and (root / "Train" / "Dehaze").is_dir():
        haze.append((RealPairs(dehaze_train_pairs(root)), real_haze_weight))
    test: dict[str, tuple[str, PairSource]] = {}
    for name, images in denoise_test_sets(root).items():
        for sigma in test_sigmas:
            test[f"{name}_sigma{sigma:g}"] = ("denoise", SyntheticPairs(ImageBank(images), "noise", sigma))
    for task in ("derain", "dehaze"):
        for name, pairs in paired_test_sets(root, task).items():
            test[name] = (task, RealPairs(pairs))
    return DataCatalog(
        train={"denoise": [(SyntheticPairs(train_bank, "noise"), 1.0)], "derain": rain, "dehaze": haze},
        val={
            task: SyntheticPairs(val_bank, degradation, test_sigmas[0] if degradation == "noise" else None)
            for task, degradation in TASK_DEGRADATION.items()
        },
        test=test,
    )


class RestorationDataModule(L.LightningDataModule):
    """Training mixture of the chosen tasks, a validation set per task, the test sets of those tasks.

    Args:
        catalog: where the images come from (``data`` config group).
        tasks: the tasks trained together (``degradation`` config group), e.g. ["denoise", "derain"].
        corpus: instruction corpus; training prompts come from its train split, evaluation prompts
            from its test split.
        crop_size: side of the training crops.
        batch_size: training batch size (evaluation runs one image at a time, whole).
        samples_per_epoch: length of a training epoch.
        blind_probability: share of training samples prompted with a blind prompt.
        val_crop: centre crop of validation images, for speed; None keeps them whole.
        test_crop: centre crop of test images (tests and quick looks); None keeps them whole.
        seed: seed of the fixed evaluation sets.
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        catalog: DataCatalog,
        tasks: Sequence[str],
        corpus: InstructionCorpus,
        crop_size: int = 128,
        batch_size: int = 6,
        samples_per_epoch: int = 1200,
        blind_probability: float = 0.1,
        val_crop: int | None = None,
        test_crop: int | None = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        unknown = [t for t in tasks if t not in TASKS or t not in catalog.train]
        if unknown or not tasks:
            raise ValueError(f"tasks {list(tasks)} should be a non-empty subset of {list(TASKS)}.")
        self.catalog = catalog
        self.tasks = list(tasks)
        self.task_ids = {task: index for index, task in enumerate(self.tasks)}
        self.corpus = corpus
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.samples_per_epoch = samples_per_epoch
        self.blind_probability = blind_probability
        self.val_crop = val_crop
        self.test_crop = test_crop
        self.seed = seed
        self.num_workers = num_workers

    def _evaluation_set(self, name: str, task: str, source: PairSource, crop: int | None) -> EvaluationSet:
        prompts = self.corpus.sentences("test", task)
        return EvaluationSet(name, source, task, self.task_ids[task], prompts, self.seed, crop)

    @override
    def setup(self, stage: str | None = None) -> None:
        blind = (
            self.corpus.sentences("train", BLIND_CATEGORY) if BLIND_CATEGORY in self.corpus.categories else []
        )
        self.train_set = TaskMixture(
            {task: self.catalog.train[task] for task in self.tasks},
            {task: self.corpus.sentences("train", task) for task in self.tasks},
            self.task_ids,
            self.crop_size,
            self.samples_per_epoch,
            blind_prompts=blind,
            blind_probability=self.blind_probability,
        )
        self.val_sets = [self._evaluation_set(t, t, self.catalog.val[t], self.val_crop) for t in self.tasks]
        self.test_sets = [
            self._evaluation_set(name, task, source, self.test_crop)
            for name, (task, source) in self.catalog.test.items()
            if task in self.tasks
        ]

    def evaluation_set_names(self, split: str) -> list[str]:
        """Names of the ``val`` or ``test`` sets, in loader order."""
        return [s.name for s in (self.val_sets if split == "val" else self.test_sets)]

    @override
    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            drop_last=True,
            persistent_workers=self.num_workers > 0,
        )

    def _evaluation_loaders(self, sets: Sequence[EvaluationSet]) -> list[DataLoader]:
        return [DataLoader(s, batch_size=1, num_workers=self.num_workers) for s in sets]

    @override
    def val_dataloader(self) -> list[DataLoader]:
        return self._evaluation_loaders(self.val_sets)

    @override
    def test_dataloader(self) -> list[DataLoader]:
        return self._evaluation_loaders(self.test_sets)
