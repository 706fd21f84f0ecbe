"""Scoring a restorer on test sets under a protocol: the one routine for training's test and ``tpir-eval``.

- ``paper``: each test pair is centre-cropped to sides that divide by 16, as the official code does.
- ``full``: the whole image (the model pads to a multiple of 8 itself and crops back).

PSNR and SSIM are computed on RGB in [0, 1] (data range 1); SSIM matches scikit-image's
``structural_similarity`` with a 7x7 uniform window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from tpir.data.catalogs import DataCatalog
from tpir.data.evaluation_sets import EvaluationSet
from tpir.data.tasks import TASKS, knows_set, set_tasks
from tpir.evaluation.prompts import prompt_pool
from tpir.evaluation.scores import SetScores
from tpir.inference.restorer import Restorer
from tpir.metrics.image_quality import SCORES, restoration_scores
from tpir.text.corpus import InstructionCorpus

# What is scored: restore(lq (1, 3, H, W) RGB in [0, 1], prompt, task name) -> (1, 3, H, W).
Restore = Callable[[torch.Tensor, str, str], torch.Tensor]

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


@torch.inference_mode()
def score_set(
    restore: Restore,
    dataset: EvaluationSet,
    protocol: str,
    limit: int | None = None,
    on_image: Callable[[], object] | None = None,
) -> SetScores:
    """Restore every image of ``dataset`` (at most ``limit``) under ``protocol`` and average its scores.

    This is the one test routine: the stage-2 runner scores its best checkpoint with it, ``tpir-eval``
    scores checkpoints and model folders with it.
    """
    if limit is not None and limit < 1:
        raise ValueError(
            f"limit={limit}; expected a number of images per set of at least 1, or null for all."
        )
    totals = dict.fromkeys(SCORES, 0.0)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for index in range(count):
        sample = dataset[index]
        lq, gt = (apply_protocol(sample[k], protocol)[None] for k in ("lq", "gt"))
        restored = restore(lq, sample["prompt"], dataset.task).cpu()
        for name, value in restoration_scores(restored, lq, gt).items():
            totals[name] += float(value.sum())
        if on_image is not None:
            on_image()
    means = {k: v / max(count, 1) for k, v in totals.items()}
    return SetScores(name=dataset.name, task=dataset.task, images=count, **means)


def score_sets(
    restore: Restore,
    sets: Sequence[EvaluationSet],
    protocol: str,
    limit: int | None = None,
    progress: bool = True,
) -> list[SetScores]:
    """:func:`score_set` of each set, with one progress bar over all their images."""
    total = sum(len(s) if limit is None else min(limit, len(s)) for s in sets)
    scores = []
    with tqdm(total=total, desc="test images", unit="img", disable=not progress) as bar:
        for dataset in sets:
            bar.set_postfix_str(dataset.name)
            scores.append(score_set(restore, dataset, protocol, limit, bar.update))
    return scores


def evaluation_sets(
    catalog: DataCatalog,
    corpus: InstructionCorpus,
    tasks: Sequence[str],
    mode: str,
    sentence: str | None,
    seed: int,
) -> list[EvaluationSet]:
    """The catalog's test sets of ``tasks``, their prompts drawn as ``mode`` says (seeded per image).

    ``prompts=wrong`` takes the sentences of the next declared task, whether or not the model knows it. A
    set of the realistic chain is tested where the model knows its four tasks.
    """
    return [
        EvaluationSet(
            name,
            source,
            task,
            task_id=list(tasks).index(set_tasks(task)[0]),
            prompts=prompt_pool(mode, task, list(TASKS), corpus, sentence),
            seed=seed,
        )
        for name, (task, source) in catalog.test.items()
        if knows_set(tasks, task)
    ]


def restore_with(model: Restorer, prompts_name_the_task: bool) -> Restore:
    """What :func:`score_sets` calls: the restorer on one whole image (``tpir-eval`` and the stage-2 runner
    both score through this).

    Args:
        model: the restorer.
        prompts_name_the_task: the prompts are of the image's own task (``prompts=random``), so a
            ``guidance=onehot`` model is given that task, as in training; otherwise (fixed, wrong, blind,
            and the sets of the realistic chain, which carry four) it takes the task it understands the
            prompt as.
    """

    def restore(lq: torch.Tensor, prompt: str, task: str) -> torch.Tensor:
        read = model.interpret(prompt, task if prompts_name_the_task and task in model.tasks else None)
        return model.restore_tensor(lq, read, tile=None)

    return restore
