"""Where stage 2's images come from: a :class:`DataCatalog` per ``data`` config, the bundled photographs or
benchmarks in the standard layout (:mod:`tpir.data.layout`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tpir.data.bundled_photos import BUNDLED_TEST, BUNDLED_TRAIN, BUNDLED_VAL, bundled_image
from tpir.data.images import ImageBank
from tpir.data.layout import check_root, clean_test_sets, clean_train_images, task_test_sets, train_pairs
from tpir.data.photos import PhotoError
from tpir.data.sources import PairSource, RealisticPairs, RealPairs, SyntheticPairs
from tpir.data.tasks import REALISTIC, TASKS, Task, knows_set

# Strength of validation and test sets of tasks with test levels, when test_levels does not name them.
DEFAULT_TEST_LEVELS = {"sigma": (25.0,)}


@dataclass
class DataCatalog:
    """The sources of one data configuration.

    Attributes:
        train: per task, (source, weight) pairs to draw training crops from.
        val: per task, a fixed-seed synthetic validation source (checkpoint selection).
        test: per set name, (task, source): the test sets reported at the end of training; the task of a
            set of the realistic chain is ``REALISTIC`` (``tpir.data.tasks``).
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
        banks = [
            bank for task, source in self.test.values() if knows_set(tasks, task) for bank in source.banks()
        ]
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
    the leveled tasks (CBSD68) degraded by each of them (``CBSD68_gauss2``); and each clean test set degraded
    by the realistic chain (``CBSD68_realistic``, task ``REALISTIC``).

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
    for name, bank in clean_banks.items():
        test[f"{name}_{REALISTIC}"] = (REALISTIC, RealisticPairs(bank))
    return DataCatalog(train=train, val=_validation_sources(val_bank, test_levels), test=test)
