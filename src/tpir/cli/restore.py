"""``tpir-restore``: restore photos as a prompt says, with the model the package ships or one exported.

    tpir-restore rainy.jpg --prompt "remove the rain"                 # writes rainy_restored.jpg beside it
    tpir-restore a.png b.png --prompt "remove the noise" --out-dir restored/    # restored/a_restored.png, ...
    tpir-restore big.tif --prompt "clear the haze" -o clear.tif --tile 256 --overlap 32 --device cuda
    tpir-restore photo.png --prompt "remove the noise" --model runs/x/model --tile 0   # whole image at once
    tpir-restore photo.png --prompt "remove the noise" --precision fp32   # not bf16, even where native
    tpir-restore small.jpg --scale 2 --prompt "remove the noise"   # twice the size: "..., and undo the 2x downscaling"

The line ``model: <folder> (<origin>)`` says which model folder restores and what chose it: ``--model``,
else ``TPIR_MODEL``, else ``packaged`` (the model the package ships, if it ships one), else ``demo`` (the
one ``make demo`` exports). The prompt is read once: the line ``understood "..." as: <category>
(confidence c)`` says which degradation the model took it to name; the line ``precision: ...`` says which
number format the model runs in, and why (``--precision auto`` takes bf16 where the hardware computes it
natively). Each photo keeps its alpha channel, bit depth and grayscale-ness; an input whose format cannot
be written (e.g. GIF) is written as PNG. Large photos are restored in overlapping tiles (``--tile``,
``--overlap``), so memory stays bounded whatever their size.

Exit status: 0 when every photo was written; 1 when some could not be read or written (each named on
stderr, the others still restored); 2 for a bad command line, model folder, prompt, device or output
folder, found before any photo is touched; 130 when interrupted (Ctrl-C), with every photo written so
far whole and none half-written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from tpir.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_SOME_FAILED,
    MODEL_ENV,
    SetupError,
    choose_model,
    load_restorer,
    output_root,
    pick_device,
)
from tpir.data.photos import (
    WRITE_FORMATS,
    PhotoError,
    check_folder_writable,
    check_writable,
    read_photo,
    write_photo,
)
from tpir.inference.inputs import OUTPUT_TAG, output_path
from tpir.inference.interpretation import Interpretation, upscaling_prompt
from tpir.inference.restorer import Restorer
from tpir.inference.runtime import PRECISIONS
from tpir.inference.tiling import tile_count
from tpir.text.encoder import PromptError

PROG = "tpir-restore"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while restoring, knowing how many photos were written before it."""

    def __init__(self, written: int) -> None:
        super().__init__(written)
        self.written = written


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tpir-restore``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Restore photos as a text prompt says (e.g. 'remove the rain').",
        epilog="Exit status: 0 all written, 1 some photos failed (named on stderr), 2 bad arguments.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos to restore")
    parser.add_argument(
        "--prompt", help='what to remove, e.g. "remove the rain" (with --scale, may be left out)'
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="enlarge each photo this many times (1 to 4) and restore its detail too: the prompt asks to "
        'undo the downscaling as well ("undo the 2x downscaling"); needs a model trained for resize',
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"model folder (tpir-export, or `make demo`); default: ${MODEL_ENV}, else the model the package "
        f"ships (if it ships one), else {output_root() / 'demo' / 'model'}",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, metavar="OUT", help="output file (one IMAGE only)")
    where.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help=f"write DIR/<stem>{OUTPUT_TAG}<suffix> (created if missing)",
    )
    parser.add_argument(
        "--tile", type=int, default=512, help="tile side, a multiple of 8; 0 restores whole (default 512)"
    )
    parser.add_argument("--overlap", type=int, default=32, help="pixels shared by tiles (default 32)")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), help="where the model runs (default: cuda if available)"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="number format: auto (bf16 where the CPU has AMX or AVX512_BF16 or the GPU has bf16, "
        "else fp32; printed), fp32 or bf16",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tpir-restore``; returns the exit status (0 all written, 1 some failed, 2 bad setup,
    130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    try:
        return _run(args)
    except KeyboardInterrupt as interrupt:  # Ctrl-C: one line, not a traceback
        written = interrupt.written if isinstance(interrupt, Interrupted) else 0
        print(
            f"{PROG}: interrupted; wrote {written} of {len(args.images)} photos, nothing half-written.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    """Set up from checked arguments, then restore every photo; returns the exit status (0, 1 or 2)."""
    try:
        device = pick_device(args.device)
        choice = choose_model(args.model)
        model = load_restorer(choice, device, args.precision)
        prompt = interpret(model, args.prompt, args.scale)
        if args.output is not None:
            _check_output_folder(args.output)
        if args.out_dir is not None:
            _make_folder(args.out_dir)
    except SetupError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_SETUP
    print(choice.summary())
    print(prompt.summary())
    print(model.precision.summary())

    jobs = plan_outputs(args.images, args.output, args.out_dir)
    show_bars = not args.quiet and sys.stderr.isatty()
    failures = restore_all(
        model, prompt, jobs, args.tile or None, args.overlap, args.overwrite, show_bars, args.scale
    )
    return EXIT_SOME_FAILED if failures else EXIT_OK


def restore_all(
    model: Restorer,
    prompt: Interpretation,
    jobs: Sequence[tuple[Path, Path]],
    tile: int | None,
    overlap: int,
    overwrite: bool,
    show_bars: bool,
    scale: float = 1.0,
) -> int:
    """Restore each (input, output) pair (enlarged ``scale`` times first), naming each failure on stderr; returns how many failed.

    Raises:
        Interrupted: Ctrl-C, with the number of photos written before it.
    """
    failures = 0
    written: dict[Path, Path] = {}  # resolved output -> its input, so one run never overwrites itself
    with (
        torch.inference_mode(),
        tqdm(total=len(jobs), desc="photos", unit="photo", disable=not show_bars) as bar,
    ):
        try:
            for source, target in jobs:
                earlier = written.get(target.resolve())
                if earlier is not None:
                    problem = (
                        f"{target}: already written from {earlier} in this run; "
                        "give the inputs distinct names."
                    )
                else:
                    problem = restore_file(
                        model, prompt, source, target, tile, overlap, overwrite, show_bars, scale
                    )
                if problem is None:
                    written[target.resolve()] = source
                else:
                    failures += 1
                    tqdm.write(f"{PROG}: {problem}", file=sys.stderr)
                bar.update()
        except KeyboardInterrupt as interrupt:
            raise Interrupted(len(written)) from interrupt
    return failures


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse argument combinations argparse cannot express (exits 2 with usage)."""
    if args.prompt is None and args.scale == 1:
        parser.error('--prompt is required (e.g. --prompt "remove the rain"), unless --scale is given.')
    if args.output is not None and len(args.images) != 1:
        parser.error(
            f"-o/--output takes exactly one IMAGE, got {len(args.images)}; use --out-dir for several."
        )
    if args.output is not None and args.output.suffix.lower() not in WRITE_FORMATS:
        parser.error(f"-o {args.output}: expected a suffix among {', '.join(WRITE_FORMATS)}.")
    if args.tile < 0 or args.tile % 8:
        parser.error(f"--tile {args.tile}: expected 0 (no tiling) or a positive multiple of 8.")
    if args.tile and not 0 <= args.overlap < args.tile:
        parser.error(f"--overlap {args.overlap}: expected 0 <= overlap < tile ({args.tile}).")


def interpret(model: Restorer, prompt: str | None, scale: float) -> Interpretation:
    """The prompt read by the model, once for every photo (with ``scale``, asking to undo the enlargement
    too); raises :class:`SetupError` if it cannot be."""
    if scale != 1:
        try:
            prompt = upscaling_prompt(prompt, scale, model.tasks)
        except PromptError as error:
            raise SetupError(f"--scale: {error}") from error
    try:
        return model.interpret(prompt)
    except PromptError as error:
        raise SetupError(f"--prompt: {error}") from error


def _check_output_folder(output: Path) -> None:
    """Raise :class:`SetupError` when ``-o output`` could not be written, before any photo is restored."""
    try:
        check_folder_writable(output.parent)
    except OSError as error:
        raise SetupError(
            f"-o {output}: cannot write into {output.parent} ({error.strerror or error})."
        ) from error


def _make_folder(folder: Path) -> None:
    """Create ``--out-dir folder`` and check that files can be made in it; raises :class:`SetupError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SetupError(f"--out-dir {folder}: cannot create it ({error.strerror or error}).") from error
    try:
        check_folder_writable(folder)
    except OSError as error:
        raise SetupError(f"--out-dir {folder}: cannot write into it ({error.strerror or error}).") from error


def plan_outputs(
    images: Sequence[Path], output: Path | None, out_dir: Path | None
) -> list[tuple[Path, Path]]:
    """(input, output) pairs: ``output`` for a single image, else :func:`output_path` of each."""
    if output is not None:
        return [(images[0], output)]
    return [(image, output_path(image, out_dir)) for image in images]


def restore_file(
    model: Restorer,
    prompt: Interpretation,
    source: Path,
    target: Path,
    tile: int | None,
    overlap: int,
    overwrite: bool,
    show_bar: bool,
    scale: float = 1.0,
) -> str | None:
    """Restore one file (enlarged ``scale`` times first) into ``target`` and print ``wrote ...`` (first, for a model with a degradation
    estimator, what it found in the photo); returns why it failed, or None.

    Args:
        model: the restorer.
        prompt: the prompt, read once by the model.
        source: the photo to read.
        target: where to write it; written whole or not at all.
        tile: tile side, or None for the whole image at once.
        overlap: pixels shared by neighbouring tiles.
        overwrite: replace an existing ``target``.
        show_bar: show a progress bar over the tiles.
        scale: enlarge the photo this many times before restoring it (the prompt asks to undo it).
    """
    start = time.perf_counter()
    try:
        check_writable(target, overwrite)  # before reading, not only when writing
        photo = read_photo(source).enlarged(scale)
        height, width = photo.rgb.shape[-2:]
        tiles = tile_count(height, width, tile, overlap)
        planned = model.plan_for(photo.rgb[None], prompt, tile, overlap)
        if planned is not None:  # what the model found in this photo, and what it does about it
            tqdm.write(f"{source.name}: {planned.summary(prompt.text)}", file=sys.stdout)
        with tqdm(total=tiles, desc=source.name, unit="tile", leave=False, disable=not show_bar) as bar:
            restored = model.restore_photo(photo, prompt, tile, overlap, bar.update, planned)
        write_photo(restored, target, overwrite=overwrite)
    except (PhotoError, FileExistsError) as error:
        return str(error)
    except torch.cuda.OutOfMemoryError:
        return f"{source}: out of memory; try a smaller --tile (now {tile or 'none'})."
    except OSError as error:  # e.g. a read-only folder or a full disk while writing
        return f"{target}: cannot write ({error.strerror or error})."
    tqdm.write(f"wrote {target} ({width} x {height}, {time.perf_counter() - start:.2f} s)", file=sys.stdout)
    return None
