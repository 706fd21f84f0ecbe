"""The page of ``tpir-app``: what one restore does (:func:`restore_upload`) and the Gradio layout around it.

The photo travels as the uploaded file itself, so it is read by the same reader as ``tpir-restore`` and
written back in its own form (16-bit stays 16-bit, alpha and grayscale are kept): the download equals
what ``tpir-restore`` writes for the same file and prompt.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from tpir.data.bundled_photos import BUNDLED_TEST, bundled_path
from tpir.data.photos import PhotoError, photo_to_pil, read_photo, write_photo
from tpir.inference.folder import CONFIG_FILE, WEIGHTS_FILE, ModelFolderError
from tpir.inference.inputs import output_path
from tpir.inference.interpretation import Interpretation
from tpir.inference.restorer import DEFAULT_OVERLAP, DEFAULT_TILE, Restorer
from tpir.inference.tiling import tile_count
from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PromptError

# Photos larger than this are refused with a message (about 7700 x 5200 pixels).
MAX_PIXELS = 40_000_000
# Uploads larger than this are refused by the server before they are read.
MAX_UPLOAD = "200mb"
# Fonts the browser already has: the page fetches nothing from outside.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)


class AppError(ValueError):
    """A problem the page shows as a message: the file or value, and what was expected."""


def find_models(root: Path) -> list[Path]:
    """Exported tpir model folders under ``root`` (a tpir ``config.json`` beside a ``model.safetensors``)."""
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.rglob(CONFIG_FILE) if _is_model_folder(path.parent))


def _is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a tpir model (not, say, the Hugging Face text encoder inside one)."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "format_version" in config and (folder / WEIGHTS_FILE).is_file()


class ModelShelf:
    """Models loaded once and shared by every request; loading is serialised."""

    def __init__(self) -> None:
        self.models: dict[Path, Restorer] = {}
        self.lock = threading.Lock()

    def get(self, folder: Path) -> Restorer:
        """The model of ``folder``; raises :class:`AppError` when it is not a usable model folder."""
        folder = folder.resolve()
        with self.lock:
            if folder not in self.models:
                try:
                    self.models[folder] = Restorer.from_pretrained(folder)
                except ModelFolderError as error:
                    raise AppError(str(error)) from error
            return self.models[folder]


@dataclass(frozen=True)
class Restoration:
    """What the page shows after a restore."""

    understood: str  # Markdown: every category the prompt was read as, with its confidence
    before: Image.Image
    after: Image.Image
    file: Path  # the restored photo in the input's own form


def understood_text(read: Interpretation) -> str:
    """What the model read the prompt as, for the page: the reading, its notes, the category cosines."""
    lines = [read.summary().replace("understood", "Understood", 1)]
    if read.match is not None:
        ranked = sorted(read.match.similarities.items(), key=lambda item: -item[1])
        lines.append("Cosine to each category: " + ", ".join(f"{c} {s:.2f}" for c, s in ranked) + ".")
    return "\n\n".join(lines)


def restore_upload(
    shelf: ModelShelf,
    folder: Path,
    upload: str | None,
    prompt: str,
    out_dir: Path,
    progress: Callable[[int, int], object] | None = None,
) -> Restoration:
    """Restore an uploaded photo as ``prompt`` says, writing the result in the photo's own form.

    Args:
        shelf: the loaded models.
        folder: the model folder chosen on the page.
        upload: the uploaded file's path, or None when nothing was uploaded.
        prompt: what to remove.
        out_dir: where the restored file is written (a new sub-folder per request).
        progress: called with (tiles done, tiles in all).

    Raises:
        AppError: no photo, an unreadable or too large photo, an unusable model, an unreadable prompt.
    """
    if not upload:
        raise AppError("Drop or pick a photo first.")
    model = shelf.get(folder)
    try:
        read = model.interpret(prompt)
    except PromptError as error:
        raise AppError(f"The prompt: {error}") from error
    source = Path(upload)
    try:
        photo = read_photo(source)
    except PhotoError as error:
        raise AppError(f"{source.name}: {str(error).removeprefix(f'{source}: ')}") from error
    height, width = photo.rgb.shape[-2:]
    if height * width > MAX_PIXELS:
        raise AppError(
            f"{source.name} is {width} x {height} pixels; the page restores photos up to {MAX_PIXELS:,} pixels "
            "(use tpir-restore for larger ones)."
        )
    tiles = _count_tiles(height, width)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, tiles)

    planned = model.plan_for(photo.rgb[None], read)
    restored = model.restore_photo(photo, read, progress=tick, planned=planned)
    target = output_path(source, Path(tempfile.mkdtemp(dir=out_dir, prefix="restored-")))
    write_photo(restored, target)
    understood = understood_text(read)
    if planned is not None:  # a model with a degradation estimator: what it found in this photo
        understood += "\n\n" + planned.summary(read.text).replace("found", "Found", 1) + "."
    return Restoration(understood, photo_to_pil(photo), photo_to_pil(restored), target)


def _count_tiles(height: int, width: int) -> int:
    return tile_count(height, width, DEFAULT_TILE, DEFAULT_OVERLAP)


def example_photos() -> list[str]:
    """The bundled test photographs, and the real photos of the data folder (``<data_dir>/real``) when there."""
    photos = [str(bundled_path(key)) for key in BUNDLED_TEST]
    real = Path(os.environ.get("TPIR_DATA_DIR", "../shared/data")) / "real"
    if real.is_dir():
        photos += [str(path) for path in sorted(real.rglob("*.png"))]
    return photos


def example_prompts() -> list[str]:
    """A test-split sentence of every corpus category: one way to ask for each degradation."""
    corpus = InstructionCorpus.load()
    return [corpus.sentences("test", category)[0] for category in corpus.categories]


def build_page(model: Path, models_root: Path) -> gr.Blocks:
    """The page: photo, prompt, what was understood, before/after, the restored file to download."""
    shelf = ModelShelf()
    out_dir = Path(tempfile.mkdtemp(prefix="tpir-app-"))
    choices = list(dict.fromkeys([str(model), *map(str, find_models(models_root))]))

    def run(folder: str, upload: str | None, prompt: str, progress: gr.Progress = gr.Progress()):  # noqa: B008
        try:
            result = restore_upload(
                shelf,
                Path(folder),
                upload,
                prompt,
                out_dir,
                lambda done, total: progress((done, total), unit="tiles"),
            )
        except AppError as error:
            raise gr.Error(str(error), print_exception=False) from error
        return result.understood, (result.before, result.after), str(result.file)

    with gr.Blocks(title="tpir: restore photos by typing") as page:
        gr.Markdown("# tpir\nDrop a photo, say what is wrong with it, and restore it.")
        with gr.Row():
            with gr.Column():
                folder = gr.Dropdown(
                    choices, value=str(model), label="Model", allow_custom_value=True, elem_id="model"
                )
                photo = gr.File(label="Photo", file_types=["image"], type="filepath", elem_id="photo")
                gr.Examples(example_photos(), inputs=photo, label="Example photos")
                prompt = gr.Textbox(label="What to remove", placeholder="remove the rain", elem_id="prompt")
                gr.Examples(example_prompts(), inputs=prompt, label="Example prompts")
                button = gr.Button("Restore", variant="primary", elem_id="restore")
            with gr.Column():
                understood = gr.Markdown(elem_id="understood")
                compare = gr.ImageSlider(label="Before / after", type="pil", elem_id="compare")
                result = gr.File(label="Restored photo, in the input's own form", elem_id="result")
        button.click(run, [folder, photo, prompt], [understood, compare, result])
    # One restore at a time: a second user waits in the queue instead of sharing the model mid-run.
    page.queue(default_concurrency_limit=1, max_size=16)
    return page


def serve(page: gr.Blocks, host: str, port: int, block: bool = True) -> None:
    """Launch ``page`` on ``host:port``: no share link, local fonts, uploads up to :data:`MAX_UPLOAD`."""
    page.launch(
        server_name=host,
        server_port=port,
        share=False,
        show_error=True,
        quiet=True,
        theme=THEME,
        max_file_size=MAX_UPLOAD,
        prevent_thread_lock=not block,
    )
