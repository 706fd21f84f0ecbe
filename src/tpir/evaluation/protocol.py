"""Scoring a restorer on test sets under a protocol (DESIGN.md section 7).

- ``paper``: each test pair is centre-cropped to sides that divide by 16, as the official code does.
- ``full``: the whole image (the model pads to a multiple of 8 itself and crops back).

PSNR and SSIM are computed on RGB in [0, 1] (data range 1); SSIM matches scikit-image's
``structural_similarity`` with a 7x7 uniform window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from tpir.data.datamodule import DataCatalog
from tpir.data.datasets import EvaluationSet
from tpir.evaluation.prompts import prompt_pool
from tpir.evaluation.scores import SetScores
from tpir.inference.model import RestorationModel
from tpir.metrics.image_quality import psnr, ssim
from tpir.text.corpus import InstructionCorpus

PROTOCOLS = ("paper", "full")
PAPER_MULTIPLE = 16


def apply_protocol(image: torch.Tensor, protocol: str) -> torch.Tensor:
    """(..., H, W) as the protocol scores it: ``paper`` centre-crops to multiples of 16, ``full`` keeps it."""
    if protocol == "full":
        return image
    if protocol != "paper":
        raise ValueError(f"protocol={protocol!r}; expected one of {', '.join(PROTOCOLS)}.")
    height, width = image.shape[-2:]
    new_height, new_width = height - height % PAPER_MULTIPLE, width - width % PAPER_MULTIPLE
    if new_height == 0 or new_width == 0:
        raise ValueError(f"a {height}x{width} image is smaller than {PAPER_MULTIPLE}x{PAPER_MULTIPLE}.")
    top, left = (height - new_height) // 2, (width - new_width) // 2
    return image[..., top : top + new_height, left : left + new_width]


class GuidanceCache:
    """``Z`` of each distinct (prompt, task), computed once (a test set reuses a few dozen sentences).

    Args:
        model: the model whose guidance it is.
        prompts_name_the_task: the prompts are of the image's own task (``prompts=random``), so a
            ``guidance=onehot`` model is given that task, as in training; otherwise (fixed, wrong, blind)
            it takes the task it understands the prompt as.
    """

    def __init__(self, model: RestorationModel, prompts_name_the_task: bool = True) -> None:
        self.model = model
        self.prompts_name_the_task = prompts_name_the_task
        self.vectors: dict[tuple[str, str], torch.Tensor | None] = {}

    def __call__(self, prompt: str, task: str) -> torch.Tensor | None:
        if (prompt, task) not in self.vectors:
            known = task if self.prompts_name_the_task else None
            self.vectors[prompt, task] = self.model.guidance_vector(prompt, known)
        return self.vectors[prompt, task]


def score_set(
    model: RestorationModel,
    dataset: EvaluationSet,
    protocol: str,
    guidance: GuidanceCache,
    limit: int | None = None,
    on_image: Callable[[], None] | None = None,
) -> SetScores:
    """Restore every image of ``dataset`` (at most ``limit``, at least 1) and average the scores."""
    if limit is not None and limit < 1:
        raise ValueError(
            f"limit={limit}; expected a number of images per set of at least 1, or null for all."
        )
    totals = dict.fromkeys(("psnr", "ssim", "psnr_input", "ssim_input", "psnr_output_vs_input"), 0.0)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for index in range(count):
        sample = dataset[index]
        lq, gt = (apply_protocol(sample[k], protocol)[None] for k in ("lq", "gt"))
        restored = model(lq, guidance(sample["prompt"], dataset.task)).cpu()
        totals["psnr"] += float(psnr(restored, gt))
        totals["ssim"] += float(ssim(restored, gt))
        totals["psnr_input"] += float(psnr(lq, gt))
        totals["ssim_input"] += float(ssim(lq, gt))
        totals["psnr_output_vs_input"] += float(psnr(restored, lq))
        if on_image is not None:
            on_image()
    means = {k: v / max(count, 1) for k, v in totals.items()}
    return SetScores(name=dataset.name, task=dataset.task, images=count, **means)


def evaluation_sets(
    catalog: DataCatalog,
    corpus: InstructionCorpus,
    tasks: Sequence[str],
    mode: str,
    sentence: str | None,
    seed: int,
) -> list[EvaluationSet]:
    """Every test set of the catalog, its prompts drawn as ``mode`` says (seeded per image)."""
    return [
        EvaluationSet(
            name,
            source,
            task,
            task_id=list(tasks).index(task) if task in tasks else -1,
            prompts=prompt_pool(mode, task, tasks, corpus, sentence),
            seed=seed,
        )
        for name, (task, source) in catalog.test.items()
    ]
