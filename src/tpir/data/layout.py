"""The standard on-disk layout of restoration benchmarks (AirNet / PromptIR / TextPromptIR).

Pairs are matched by their leading id, never by extension: ``rain-12.png`` with ``norain-12.png``,
``0001_0.8_0.2.jpg`` with ``0001.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tpir.data.photos import list_images
from tpir.data.tasks import TASKS, Task

# Where the clean training images are, which every synthetic degradation starts from.
CLEAN_TRAIN_FOLDER = "Train/Denoise"


class DataLayoutError(ValueError):
    """A data folder that does not follow the standard layout; the message shows the layout."""


@dataclass(frozen=True)
class ImagePair:
    """A degraded image and its clean target."""

    lq: Path
    gt: Path


def pair_id(path: Path) -> str:
    """Leading id of a benchmark file name: ``rain-12`` -> ``12``, ``0001_0.8_0.2`` -> ``0001``."""
    return re.sub(r"^(no)?rain-", "", path.stem).split("_")[0]


def expected_layout() -> str:
    """The standard layout, a line per folder, as the declared tasks make it."""
    lines = [f"  {CLEAN_TRAIN_FOLDER + '/*.{png,jpg,bmp}':<42} clean images (degraded on the fly)"]
    for task in TASKS.values():
        if task.train_pairs is not None:
            degraded, clean = (f"Train/{task.train_folder}/{folder}/" for folder in task.train_pairs)
            lines.append(f"  {degraded:<42} with {clean} (optional real pairs)")
    for task in TASKS.values():
        if task.test_level is not None:
            lines.append(
                f"  {f'test/{task.name}/<set>/*.png':<42} clean images ({task.degradation} added, fixed seed)"
            )
        else:
            optional = " (optional)" if task.synthetic_tests else ""
            lines.append(
                f"  {f'test/{task.name}/<set>/input/':<42} with test/{task.name}/<set>/target/{optional}"
            )
        if task.synthetic_tests:
            lines.append(f"  {'':<42} and the clean test sets with {task.degradation} added (fixed seed)")
    return "\n".join(lines)


def _layout_error(root: Path, problem: str) -> DataLayoutError:
    return DataLayoutError(
        f"{problem} (data.root={root}; set paths.data_dir or TPIR_DATA_DIR); expected this layout under it:\n"
        f"{expected_layout()}"
    )


def check_root(root: str | Path) -> Path:
    """Return ``root`` as a Path, or raise if it is not a folder holding ``Train`` or ``test``."""
    root = Path(root)
    if not root.is_dir():
        raise _layout_error(root, f"data folder {root} does not exist")
    if not (root / "Train").is_dir() and not (root / "test").is_dir():
        raise _layout_error(root, f"data folder {root} has neither Train/ nor test/")
    return root


def match_pairs(lq_dir: Path, gt_dir: Path, root: Path) -> list[ImagePair]:
    """Pair every image of ``lq_dir`` with the image of ``gt_dir`` that has its leading id."""
    for folder in (lq_dir, gt_dir):
        if not folder.is_dir():
            raise _layout_error(root, f"missing folder {folder}")
    targets = {pair_id(p): p for p in list_images(gt_dir)}
    pairs = []
    for lq in list_images(lq_dir):
        gt = targets.get(pair_id(lq))
        if gt is None:
            raise _layout_error(root, f"{lq} has no target with id {pair_id(lq)!r} in {gt_dir}")
        pairs.append(ImagePair(lq, gt))
    if not pairs:
        raise _layout_error(root, f"no images in {lq_dir}")
    return pairs


def clean_train_images(root: str | Path) -> list[Path]:
    """Clean training images of ``Train/Denoise``."""
    root = check_root(root)
    folder = root / CLEAN_TRAIN_FOLDER
    images = list_images(folder) if folder.is_dir() else []
    if not images:
        raise _layout_error(root, f"no clean images in {folder}")
    return images


def train_pairs(root: str | Path, task: Task) -> list[ImagePair]:
    """Real training pairs of a task (``Train/<folder>/<degraded>`` with ``<clean>``); [] when it has none."""
    root = check_root(root)
    if task.train_pairs is None or not (root / "Train" / task.train_folder).is_dir():
        return []
    folder = root / "Train" / task.train_folder
    return match_pairs(folder / task.train_pairs[0], folder / task.train_pairs[1], root)


def clean_test_sets(root: str | Path) -> dict[str, list[Path]]:
    """The clean test sets (those of tasks with test levels, e.g. ``test/denoise/CBSD68``), by set name: what
    the tasks that declare synthetic tests degrade."""
    return {
        name: images
        for task in TASKS.values()
        if task.test_level is not None
        for name, images in task_test_sets(root, task).items()
    }


def task_test_sets(root: str | Path, task: Task) -> dict[str, list[Path] | list[ImagePair]]:
    """Each ``test/<task>/<set>``: clean images for a task with test levels, else (input, target) pairs."""
    root = check_root(root)
    folder = root / "test" / task.name
    sets = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if task.test_level is not None:
        return {s.name: list_images(s) for s in sets if list_images(s)}
    return {s.name: match_pairs(s / "input", s / "target", root) for s in sets}
