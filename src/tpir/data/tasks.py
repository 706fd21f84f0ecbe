"""The restoration tasks, each declared once: everything else (datasets, the benchmark layout, evaluation,
tables, export, the notebooks) reads these declarations.

A new task is one :class:`Task` (its degradation function and parameter sampler live in a module of
``tpir.data.degradations`` or anywhere else), sentences of its corpus category, and, for the
benchmark layout, its folders. Extensions and tests add one with :func:`declare_task`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from tpir.data.degradations.blur import BlurParams, add_blur, sample_blur_params
from tpir.data.degradations.haze import HazeParams, add_haze, sample_haze_params
from tpir.data.degradations.jpeg import JpegParams, add_jpeg, sample_jpeg_params
from tpir.data.degradations.lowlight import LowLightParams, add_low_light, sample_low_light_params
from tpir.data.degradations.noise import NoiseParams, add_gaussian_noise, sample_noise_params
from tpir.data.degradations.rain import RainParams, add_rain_streaks, sample_rain_params
from tpir.data.degradations.resize import ResizeParams, add_resize, sample_resize_params


@dataclass(frozen=True)
class Task:
    """One restoration task and everything the project needs to know about it.

    Attributes:
        name: the task's name in configs (``degradation.tasks``), metric keys, the corpus category of
            its prompts and its test folder ``test/<name>/<set>``.
        degradation: the name of what it removes (``noise``), as prompts and notebooks say it.
        params: the frozen dataclass of the degradation's parameters (the declared families' are
            :class:`~tpir.data.degradations.params.DegradationParams`, whose ``number`` prompts state); its
            fields are the keyword arguments of ``degrade``, and its first field is the strength of
            ``test_level``.
        sample_params: draws a ``params`` from a ``torch.Generator``.
        degrade: ``degrade(image, generator=..., **params) -> (degraded, params)``, image (3, H, W) or
            (B, 3, H, W) RGB in [0, 1].
        title: column title in tables (``Denoise``).
        layer: place in the physical order of a composite image, lowest first: haze 10 (in the scene),
            rain 20 (in front of it), blur and low light 30 (the camera), resolution loss 35 (the lens and
            the app that shrinks the photo), noise 40 (the sensor), JPEG 50 (the file). See ``tpir.data.composite``.
        train_folder: ``Train/<train_folder>`` of the benchmark layout.
        train_pairs: sub-folders (degraded, clean) of real training pairs in ``train_folder``, or None
            when the task trains on clean images degraded on the fly only.
        test_level: for tasks whose test sets are clean images degraded at fixed strengths (denoising),
            the name of that strength (``sigma``): sets are named ``<set>_<test_level><value>``. None
            for tasks whose test sets are real pairs (``input/`` with ``target/``).
        synthetic_tests: named parameters of test sets made from the clean test images (those of the
            tasks with a ``test_level``, e.g. CBSD68) with fixed seeds, beside any real pairs of the task:
            ``(("gauss2", BlurParams(sigma=2)),)`` makes ``CBSD68_gauss2``.
        partial_removal: whether a prompt can ask to remove part of the degradation ("denoise with sigma 10"
            on sigma 25 leaves sigma 15): its ``number`` grows with the strength and a weaker layer is the
            same one with a smaller number.
    """

    name: str
    degradation: str
    params: type
    sample_params: Callable[[torch.Generator], Any]
    degrade: Callable[..., tuple[torch.Tensor, Any]]
    title: str
    layer: int
    train_folder: str
    train_pairs: tuple[str, str] | None = None
    test_level: str | None = None
    synthetic_tests: tuple[tuple[str, Any], ...] = ()
    partial_removal: bool = False

    def apply(
        self, image: torch.Tensor, generator: torch.Generator, params: Any | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Degrade ``image``, (3, H, W) or (B, 3, H, W) in [0, 1], drawing the parameters when none are given.

        Returns:
            The degraded image, same shape, and the parameters used.

        Raises:
            ValueError: ``params`` are not of this task's kind.
        """
        if params is None:
            params = self.sample_params(generator)
        if not isinstance(params, self.params):
            raise ValueError(
                f"task {self.name!r} takes {self.params.__name__} parameters, got {type(params).__name__}."
            )
        return self.degrade(image, generator=generator, **asdict(params))

    def params_at_level(self, level: float) -> Any:
        """The parameters of a test set at a fixed strength (``NoiseParams(25)``)."""
        if self.test_level is None:
            raise ValueError(f"task {self.name!r} has no test levels; its test sets are real pairs.")
        return self.params(level)

    def level_name(self, level: float) -> str:
        """The suffix of a test set at a fixed strength: ``sigma25``."""
        return f"{self.test_level}{level:g}"


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="denoise",
            degradation="noise",
            params=NoiseParams,
            sample_params=sample_noise_params,
            degrade=add_gaussian_noise,
            title="Denoise",
            layer=40,
            train_folder="Denoise",
            test_level="sigma",
            partial_removal=True,
        ),
        Task(
            name="derain",
            degradation="rain",
            params=RainParams,
            sample_params=sample_rain_params,
            degrade=add_rain_streaks,
            title="Derain",
            layer=20,
            train_folder="Derain",
            train_pairs=("rainy", "gt"),
            partial_removal=True,
        ),
        Task(
            name="dehaze",
            degradation="haze",
            params=HazeParams,
            sample_params=sample_haze_params,
            degrade=add_haze,
            title="Dehaze",
            layer=10,
            train_folder="Dehaze",
            train_pairs=("synthetic", "original"),
            partial_removal=True,
        ),
        Task(
            name="deblur",
            degradation="blur",
            params=BlurParams,
            sample_params=sample_blur_params,
            degrade=add_blur,
            title="Deblur",
            layer=30,
            train_folder="Deblur",
            train_pairs=("blur", "sharp"),
            synthetic_tests=(
                ("gauss2", BlurParams(sigma=2.0)),
                ("motion15", BlurParams(length=15, angle=45.0)),
            ),
        ),
        Task(
            name="dejpeg",
            degradation="JPEG artifacts",
            params=JpegParams,
            sample_params=sample_jpeg_params,
            degrade=add_jpeg,
            title="JPEG",
            layer=50,
            train_folder="Dejpeg",
            synthetic_tests=tuple((f"q{q}", JpegParams(q)) for q in (10, 20, 30, 40)),
        ),
        Task(
            name="lowlight",
            degradation="low light",
            params=LowLightParams,
            sample_params=sample_low_light_params,
            degrade=add_low_light,
            title="Low-light",
            layer=30,
            train_folder="Lowlight",
            train_pairs=("low", "high"),
            synthetic_tests=(("exposure0.3", LowLightParams(0.3)), ("exposure0.15", LowLightParams(0.15))),
        ),
        Task(
            name="resize",
            degradation="low resolution",
            params=ResizeParams,
            sample_params=sample_resize_params,
            degrade=add_resize,
            title="Resize",
            layer=35,
            train_folder="Resize",
            synthetic_tests=(("x2", ResizeParams(2.0)),),
        ),
    )
}


# The realistic chain (tpir.data.degradations.realistic) is no task of its own: its images carry the
# degradations of four tasks at once, which its prompts name (or a blind prompt asks to remove). Its test
# sets (``CBSD68_realistic``) are scored under this name.
REALISTIC = "realistic"
# The task of each family of the chain, in physical order.
REALISTIC_TASKS: dict[str, str] = {"blur": "deblur", "resize": "resize", "noise": "denoise", "jpeg": "dejpeg"}


def set_tasks(task: str) -> tuple[str, ...]:
    """The tasks whose degradations an evaluation set of ``task`` carries, which its prompts name: the
    chain's four in physical order for ``REALISTIC``, else the task itself."""
    if task == REALISTIC:
        return tuple(sorted(REALISTIC_TASKS.values(), key=lambda name: TASKS[name].layer))
    return (task,)


def knows_set(tasks: Sequence[str], task: str) -> bool:
    """Whether a model of ``tasks`` is tested on a set of ``task``: it knows every task the set carries."""
    return set(set_tasks(task)) <= set(tasks)


def declare_task(task: Task) -> Task:
    """Add a task for this process (a plug-in or a test); refuses a name that is taken."""
    if task.name in TASKS:
        raise ValueError(f"a task named {task.name!r} is already declared.")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The declared task ``name``.

    Raises:
        ValueError: no task of that name, naming the declared ones.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}.")
    return TASKS[name]
