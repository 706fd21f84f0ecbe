"""Prompt studies of ``tpir-eval study=...``: what the words of a prompt do to the output.

- ``composite``: images with several degradations (each real test set plus noise; a clean set with every
  synthetic degradation stacked), restored with prompts that remove each one, each pair, all by name and
  all blind; each output is scored against the target of its prompt (the image rebuilt without what the
  prompt removes), beside the input against the same target and the output against the clean image.
- ``strength``: SPIRE's "prompt space walking": a clean set degraded at a few true strengths, restored
  with prompts stating a sweep of numbers; PSNR against clean and the mean |output - input| per number.

Every set is built with fixed seeds, so two runs (or two models) see the same images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import torch

from tpir.data.catalogs import DataCatalog
from tpir.data.composite import Stack, physical_order, stack_layers
from tpir.data.prompting import pick
from tpir.data.sources import PairSource, SyntheticPairs
from tpir.data.tasks import get_task
from tpir.evaluation.protocol import Restore, apply_protocol
from tpir.metrics.image_quality import psnr, ssim
from tpir.text.lexicon import Lexicon

STUDIES = ("composite", "strength", "ood")
BLIND_PROMPT = "remove all degradation"


@dataclass(frozen=True)
class CompositeSet:
    """A fixed set of composite images.

    Attributes:
        name: ``Rain100L+noise15``.
        source: the pairs (real) or clean images (synthetic) the stacks are built on.
        real_task: the task of the source's real degradation, or None for clean images.
        synthetic: per task stacked on top, fixed parameters, or None to draw them per image.
        seed: base seed: image ``i`` draws from ``seed * 1_000_003 + i``.
    """

    name: str
    source: PairSource
    real_task: str | None
    synthetic: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __len__(self) -> int:
        return len(self.source)

    def stack(self, index: int) -> Stack:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        real, clean = self.source.base(index, generator, None)
        layers = stack_layers(list(self.synthetic), generator, dict(self.synthetic))
        return Stack(clean, layers, None if self.real_task is None else (self.real_task, real))

    @property
    def tasks(self) -> list[str]:
        return ([self.real_task] if self.real_task else []) + list(self.synthetic)


def composite_sets(
    catalog: DataCatalog, tasks: Sequence[str], noise_sigma: float = 15.0, seed: int = 0
) -> list[CompositeSet]:
    """Each real test set of ``tasks`` with noise at ``noise_sigma`` on top, and the first clean test set
    (CBSD68) with every synthetic task of ``tasks`` stacked, noise at ``noise_sigma``, the others drawn.

    Raises:
        ValueError: the model does not remove noise, or the catalog has no test set to build on.
    """
    noise = "denoise"
    if noise not in tasks:
        raise ValueError(f"study=composite adds noise to the test sets; the model's tasks are {list(tasks)}.")
    noise_params = get_task(noise).params_at_level(noise_sigma)
    sets, clean_bank = [], None
    for name, (task, source) in catalog.test.items():
        if task not in tasks:
            continue
        if get_task(task).test_level is None:
            # A real pair carries its degradation; a synthetic set's is drawn as a layer under the noise.
            real = not isinstance(source, SyntheticPairs)
            layers = {noise: noise_params} if real else {task: None, noise: noise_params}
            sets.append(
                CompositeSet(f"{name}+noise{noise_sigma:g}", source, task if real else None, layers, seed)
            )
        elif clean_bank is None and isinstance(source, SyntheticPairs):
            clean_bank = (name.split("_")[0], source.bank)
    if clean_bank is not None:
        stacked = {t: (noise_params if t == noise else None) for t in physical_order(tasks)}
        label = "+".join(get_task(t).degradation for t in stacked)
        sets.append(
            CompositeSet(
                f"{clean_bank[0]}_{label}", SyntheticPairs(clean_bank[1], noise), None, stacked, seed
            )
        )
    if not sets:
        raise ValueError("study=composite found no test set to build composites on.")
    return sets


def removal_prompts(tasks: Sequence[str], lexicon: Lexicon) -> list[tuple[str, list[str]]]:
    """(prompt, removed tasks) for each single removal, each pair, all by name (three or more) and blind."""
    prompts = []
    for size in range(1, len(tasks) + 1):
        for chosen in combinations(tasks, size):
            prompts.append((lexicon.naming_prompt(chosen), list(chosen)))
    return [*prompts, (BLIND_PROMPT, list(tasks))]


def _scored(restore: Restore, lq: torch.Tensor, prompt: str, task: str, protocol: str) -> torch.Tensor:
    return restore(apply_protocol(lq, protocol)[None], prompt, task).cpu().float().clamp(0, 1)


@torch.inference_mode()
def composite_study(
    restore: Restore, sets: Sequence[CompositeSet], lexicon: Lexicon, protocol: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """One row per (set, prompt): mean PSNR/SSIM against the prompt's target, the input's PSNR against it,
    and the output's PSNR against the clean image."""
    rows = []
    for dataset in sets:
        prompts = removal_prompts(dataset.tasks, lexicon)
        totals = {
            prompt: dict.fromkeys(("psnr", "ssim", "psnr_input", "psnr_vs_clean"), 0.0)
            for prompt, _ in prompts
        }
        count = len(dataset) if limit is None else min(limit, len(dataset))
        for index in range(count):
            stack = dataset.stack(index)
            lq, clean = (apply_protocol(x, protocol)[None] for x in (stack.degraded, stack.clean))
            for prompt, removed in prompts:
                target = apply_protocol(stack.without(removed), protocol)[None]
                restored = _scored(restore, stack.degraded, prompt, removed[0], protocol)
                scores = totals[prompt]
                scores["psnr"] += float(psnr(restored, target)[0])
                scores["ssim"] += float(ssim(restored, target)[0])
                scores["psnr_input"] += float(psnr(lq, target)[0])
                scores["psnr_vs_clean"] += float(psnr(restored, clean)[0])
        for prompt, removed in prompts:
            means = {k: v / max(count, 1) for k, v in totals[prompt].items()}
            rows.append({"set": dataset.name, "prompt": prompt, "removes": removed, "images": count, **means})
    return rows


def composite_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = [
        "Set",
        "Prompt",
        "PSNR / SSIM vs its target",
        "Input PSNR vs target",
        "Gain (dB)",
        "PSNR vs clean",
    ]
    body = [
        [
            r["set"],
            r["prompt"],
            f"{r['psnr']:.2f} / {r['ssim']:.4f}",
            f"{r['psnr_input']:.2f}",
            f"{r['psnr'] - r['psnr_input']:+.2f}",
            f"{r['psnr_vs_clean']:.2f}",
        ]
        for r in rows
    ]
    return header, body


@dataclass(frozen=True)
class StrengthSweep:
    """One task's sweep: the clean set degraded at each true strength, restored at each stated one."""

    task: str
    true_numbers: tuple[float, ...]
    prompt_numbers: tuple[float, ...]


# The sweeps of the prompts issue: noise sigma on 0-255 and rain density in [0, 1].
DEFAULT_SWEEPS = (
    StrengthSweep("denoise", (15, 25, 50), (5, 10, 15, 25, 35, 50, 75)),
    StrengthSweep("derain", (0.3, 0.6, 0.9), (0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)),
)


def numeric_prompt(task: str, number: float, lexicon: Lexicon) -> str:
    """``remove the noise of sigma 25``: the plainest prompt stating a strength."""
    vocabulary = lexicon[task]
    return (
        f"remove the {vocabulary.nouns[0]} of {vocabulary.number_names[0]} {vocabulary.format_number(number)}"
    )


@torch.inference_mode()
def strength_study(
    restore: Restore,
    clean: SyntheticPairs,
    sweeps: Sequence[StrengthSweep],
    lexicon: Lexicon,
    free_prompts: Mapping[str, Sequence[str]],
    protocol: str,
    seed: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One row per (task, true strength, prompt): PSNR against clean and mean |output - input| (0-255
    scale), for each stated number and for free-form prompts of the task (drawn per image)."""
    rows = []
    count = len(clean) if limit is None else min(limit, len(clean))
    for sweep in sweeps:
        task = get_task(sweep.task)
        for true_number in sweep.true_numbers:
            prompts: list[tuple[str, float | None]] = [
                (numeric_prompt(sweep.task, n, lexicon), n) for n in sweep.prompt_numbers
            ]
            prompts.append(("free-form", None))
            totals = {p: [0.0, 0.0] for p, _ in prompts}
            for index in range(count):
                generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
                _, image = clean.base(index, generator, None)
                params = task.sample_params(generator).with_number(true_number)
                degraded, _ = task.apply(image, generator, params)
                free = pick(free_prompts[sweep.task], generator)
                lq, gt = (apply_protocol(x, protocol)[None] for x in (degraded, image))
                for prompt, _ in prompts:
                    restored = _scored(
                        restore, degraded, free if prompt == "free-form" else prompt, sweep.task, protocol
                    )
                    totals[prompt][0] += float(psnr(restored, gt)[0])
                    totals[prompt][1] += float((restored - lq).abs().mean()) * 255
            for prompt, number in prompts:
                psnr_sum, change_sum = totals[prompt]
                rows.append(
                    {
                        "task": sweep.task,
                        "true": true_number,
                        "prompt": prompt,
                        "stated": number,
                        "images": count,
                        "psnr": psnr_sum / max(count, 1),
                        "mean_abs_change": change_sum / max(count, 1),
                    }
                )
    return rows


def strength_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["Task", "True strength", "Prompt", "PSNR vs clean", "Mean |output - input| (0-255)"]
    body = [
        [r["task"], f"{r['true']:g}", r["prompt"], f"{r['psnr']:.2f}", f"{r['mean_abs_change']:.2f}"]
        for r in rows
    ]
    return header, body
