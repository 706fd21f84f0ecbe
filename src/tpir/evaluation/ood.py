"""Out-of-distribution checks (``tpir-eval study=ood``): degradations of kinds training never draws, and
photos from outside the training sets, each restored with the prompt naming its degradation and with the
blind prompt.

The sets (each image's degradation seeded by its index):

- ``CBSD68+drawn rain``: rain of a second generator (:mod:`tpir.data.degradations.drawn_rain`), not ours;
- ``CBSD68+Poisson``: shot noise (:func:`~tpir.data.degradations.noise.add_poisson_noise`), not Gaussian;
- ``CBSD68+noise+JPEG``: Gaussian noise saved as a JPEG, its grain smeared into blocks;
- ``outside+noise``, ``outside+rain``: our noise and rain on the clean targets of the real-pair test sets
  (Rain100L, HSTS, SOTS, GoPro, LOL), which no training draws from, centre-cropped.

Per set it reports the mean PSNR of the input, of the named prompt's output and of the blind prompt's
against the clean image; how many images the named prompt left as they were (PSNR against the input of
:data:`UNCHANGED_DB` or more); and the worst image of the blind prompt against the named one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tpir.data.degradations.drawn_rain import DrawnRain, add_drawn_rain
from tpir.data.degradations.jpeg import add_jpeg
from tpir.data.degradations.noise import add_gaussian_noise, add_poisson_noise
from tpir.data.degradations.params import uniform
from tpir.data.images import ImageBank
from tpir.data.layout import check_root, task_test_sets
from tpir.data.photos import to_float
from tpir.data.tasks import TASKS, get_task
from tpir.data.transforms import centre_crop
from tpir.evaluation.protocol import Restore, apply_protocol
from tpir.metrics.image_quality import psnr

# An output this close to its input (PSNR, dB) counts as left as it was.
UNCHANGED_DB = 50.0
# Side of the centre crop of the outside photos (GoPro frames are 1280 x 720).
OUTSIDE_CROP = 256
# Clean targets taken from each real-pair test set for the outside photos.
OUTSIDE_PER_SET = 10
BLIND_PROMPT = "remove all degradation"

Degrade = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class OodSet:
    """Clean images degraded by one out-of-distribution degradation.

    Attributes:
        name: ``CBSD68+drawn rain``.
        task: the task whose prompt names the degradation (``derain``).
        prompt: that prompt ("remove the rain").
        images: the clean images.
        degrade: (3, H, W) clean image, generator -> degraded image.
        crop: side of a centre crop, or None for whole images.
        seed: image ``i`` draws from ``seed * 1_000_003 + i``.
    """

    name: str
    task: str
    prompt: str
    images: ImageBank
    degrade: Degrade
    crop: int | None = None
    seed: int = 0

    def __len__(self) -> int:
        return len(self.images)

    def pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(degraded, clean) image ``index``, (3, H, W) in [0, 1], the same on every call."""
        clean = to_float(self.images[index])
        if self.crop is not None:
            clean = centre_crop(clean, self.crop)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        return self.degrade(clean, generator), clean


def drawn_rain(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rain of the second generator: amount 0.6-1.6, wind -25 to 25 degrees, veil 0-0.08."""
    rain = DrawnRain(uniform(generator, 0.6, 1.6), uniform(generator, -25, 25), uniform(generator, 0, 0.08))
    return add_drawn_rain(image, generator, rain)


def poisson_noise(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shot noise of scale 1-2.5, grey on one image in three."""
    scale, grey = uniform(generator, 1.0, 2.5), uniform(generator, 0, 1) < 1 / 3
    return add_poisson_noise(image, scale, generator, grey)


def noise_then_jpeg(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of sigma 15-30, then saved as a JPEG of quality 50-80."""
    noisy, _ = add_gaussian_noise(image, uniform(generator, 15, 30), generator)
    return add_jpeg(noisy, generator, round(uniform(generator, 50, 80)))[0]


def ours(task: str) -> Degrade:
    """The task's own degradation, its parameters drawn as training draws them."""
    return lambda image, generator: get_task(task).apply(image, generator)[0]


def ood_sets(root: str | Path, tasks: Sequence[str], seed: int = 0) -> list[OodSet]:
    """The sets of the data layout under ``root`` that a model of ``tasks`` is asked about (noise and rain).

    Raises:
        DataLayoutError: ``root`` does not follow the layout. ValueError: it has no CBSD68-like clean set.
    """
    root = check_root(root)
    clean_sets = task_test_sets(root, get_task("denoise"))
    if not clean_sets:
        raise ValueError(f"study=ood degrades a clean test set (test/denoise/<set>); {root} has none.")
    name, paths = next(iter(clean_sets.items()))
    clean = ImageBank(paths)
    outside = ImageBank(_outside_photos(root))
    sets = []
    if "derain" in tasks:
        sets.append(OodSet(f"{name}+drawn rain", "derain", "remove the rain", clean, drawn_rain, seed=seed))
    if "denoise" in tasks:
        sets += [
            OodSet(f"{name}+Poisson", "denoise", "remove the noise", clean, poisson_noise, seed=seed),
            OodSet(f"{name}+noise+JPEG", "denoise", "remove the noise", clean, noise_then_jpeg, seed=seed),
        ]
    if len(outside):
        for task, noun in (("denoise", "noise"), ("derain", "rain")):
            if task in tasks:
                sets.append(
                    OodSet(
                        f"outside+{noun}", task, f"remove the {noun}", outside, ours(task), OUTSIDE_CROP, seed
                    )
                )
    return sets


def _outside_photos(root: Path) -> list[Path]:
    """The clean targets of every real-pair test set (``test/<task>/<set>/target``), at most
    :data:`OUTSIDE_PER_SET` of each."""
    photos = []
    for task in TASKS.values():
        if task.test_level is None:
            for pairs in task_test_sets(root, task).values():
                photos += [pair.gt for pair in pairs][:OUTSIDE_PER_SET]
    return photos


@torch.inference_mode()
def ood_study(
    restore: Restore, sets: Sequence[OodSet], protocol: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """One row per set: images, mean PSNR of input / named / blind against clean, images the named prompt
    left unchanged, and the worst and mean (blind - named) PSNR per image."""
    rows = []
    for dataset in sets:
        count = len(dataset) if limit is None else min(limit, len(dataset))
        totals = dict.fromkeys(("input", "named", "blind"), 0.0)
        unchanged, gaps = 0, []
        for index in range(count):
            lq, clean = (apply_protocol(x, protocol)[None] for x in dataset.pair(index))
            named = restore(lq, dataset.prompt, dataset.task).cpu().float().clamp(0, 1)
            blind = restore(lq, BLIND_PROMPT, dataset.task).cpu().float().clamp(0, 1)
            scores = {
                k: float(psnr(x, clean)[0]) for k, x in (("input", lq), ("named", named), ("blind", blind))
            }
            for key, value in scores.items():
                totals[key] += value
            unchanged += float(psnr(named, lq)[0]) >= UNCHANGED_DB
            gaps.append(scores["blind"] - scores["named"])
        means = {f"psnr_{k}": v / max(count, 1) for k, v in totals.items()}
        rows.append(
            {
                "set": dataset.name,
                "prompt": dataset.prompt,
                "images": count,
                **means,
                "named_unchanged": unchanged,
                "blind_minus_named_worst": min(gaps, default=0.0),
                "blind_minus_named_mean": sum(gaps) / max(len(gaps), 1),
            }
        )
    return rows


def ood_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The study's table: one line per set."""
    header = [
        "Set",
        "Prompt",
        "Images",
        "Input",
        "Named",
        "Blind",
        "Named unchanged",
        "Blind - named (worst)",
    ]
    body = [
        [
            r["set"],
            r["prompt"],
            str(r["images"]),
            f"{r['psnr_input']:.2f}",
            f"{r['psnr_named']:.2f}",
            f"{r['psnr_blind']:.2f}",
            str(r["named_unchanged"]),
            f"{r['blind_minus_named_mean']:+.2f} ({r['blind_minus_named_worst']:+.2f})",
        ]
        for r in rows
    ]
    return header, body
