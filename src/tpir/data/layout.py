"""The standard on-disk layout of restoration benchmarks (AirNet / PromptIR / TextPromptIR).

Pairs are matched by their leading id, never by extension: ``rain-12.png`` with ``norain-12.png``,
``0001_0.8_0.2.jpg`` with ``0001.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tpir.data.images import list_images

EXPECTED_LAYOUT = """\
  Train/Denoise/*.{png,jpg,bmp}              clean images (noise is added on the fly)
  Train/Derain/rainy/rain-N.png              with Train/Derain/gt/norain-N.png
  Train/Dehaze/synthetic/ID_A_B.jpg          with Train/Dehaze/original/ID.{jpg,png}
  test/denoise/<set>/*.png                   clean images (noise added with a fixed seed)
  test/derain/<set>/input/rain-N.png         with test/derain/<set>/target/norain-N.png
  test/dehaze/<set>/input/ID_A_B.jpg         with test/dehaze/<set>/target/ID.png"""

TASK_FOLDERS = {"denoise": "Denoise", "derain": "Derain", "dehaze": "Dehaze"}


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


def _layout_error(root: Path, problem: str) -> DataLayoutError:
    return DataLayoutError(f"{problem} (data.root={root}); expected this layout under it:\n{EXPECTED_LAYOUT}")


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


def denoise_train_images(root: str | Path) -> list[Path]:
    """Clean training images of ``Train/Denoise``."""
    root = check_root(root)
    folder = root / "Train" / "Denoise"
    images = list_images(folder) if folder.is_dir() else []
    if not images:
        raise _layout_error(root, f"no clean images in {folder}")
    return images


def derain_train_pairs(root: str | Path) -> list[ImagePair]:
    """Real rain pairs of ``Train/Derain``."""
    root = check_root(root)
    return match_pairs(root / "Train" / "Derain" / "rainy", root / "Train" / "Derain" / "gt", root)


def dehaze_train_pairs(root: str | Path) -> list[ImagePair]:
    """Real haze pairs of ``Train/Dehaze`` (RESIDE naming)."""
    root = check_root(root)
    return match_pairs(root / "Train" / "Dehaze" / "synthetic", root / "Train" / "Dehaze" / "original", root)


def denoise_test_sets(root: str | Path) -> dict[str, list[Path]]:
    """Clean images of each ``test/denoise/<set>``."""
    folder = check_root(root) / "test" / "denoise"
    sets = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return {s.name: list_images(s) for s in sets if list_images(s)}


def paired_test_sets(root: str | Path, task: str) -> dict[str, list[ImagePair]]:
    """Pairs of each ``test/<task>/<set>/{input,target}`` (task ``derain`` or ``dehaze``)."""
    root = check_root(root)
    folder = root / "test" / task
    sets = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return {s.name: match_pairs(s / "input", s / "target", root) for s in sets}
