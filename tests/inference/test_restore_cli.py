"""``tpir-restore`` run in-process on small photos with a tiny random model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.cli.restore import main
from tpir.data.photos import Photo, read_photo, write_photo
from tpir.inference.restorer import Restorer
from tpir.inference.tiling import tile_count
from tpir.metrics.image_quality import psnr
from tpir.models.backbone import TextGuidedBackbone
from tpir.text.encoder import TextEncoder

PROMPT = "remove the rain"
HEIGHT, WIDTH = 40, 56


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``tpir-restore argv``; argparse exits count as statuses."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def restore(capsys: pytest.CaptureFixture[str], model: Path, *argv: str | Path) -> tuple[int, str, str]:
    return run(capsys, *argv, "--prompt", PROMPT, "--model", model)


def pixels(channels: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """Smooth random (H, W, C) uint8 pixels (C = 1 is returned as (H, W))."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, width)[None, :, None] * np.linspace(0.5, 1, height)[:, None, None]
    values = (0.6 * ramp + 0.4 * rng.random((height, width, channels))) * 255
    array = values.round().astype(np.uint8)
    return array[..., 0] if channels == 1 else array


def save(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(array).save(path)
    return path


def test_restores_an_rgb_png_at_its_size(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "photo.png")
    status, out, err = restore(capsys, model_folder, source)
    target = tmp_path / "photo_restored.png"
    assert (status, err) == (0, "")
    assert f"wrote {target} ({WIDTH} x {HEIGHT}, " in out
    with Image.open(target) as image:
        assert (image.mode, image.size) == ("RGB", (WIDTH, HEIGHT))
        assert not np.array_equal(np.asarray(image), pixels(3)), "the model should change pixels"


def test_prints_what_the_prompt_was_understood_as(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "photo.png")
    _, out, _ = restore(capsys, model_folder, source)
    assert out.splitlines()[:2] == [
        f"model: {model_folder} (--model)",
        f'understood "{PROMPT}" as: remove: derain (named by words, confidence 1.00)',
    ]
    prompt = "denoise with sigma 25 but keep the rain"
    _, out, _ = run(capsys, source, "--prompt", prompt, "--model", model_folder, "--overwrite")
    assert out.splitlines()[1:4] == [
        f'understood "{prompt}" as: remove: denoise (25); keep: derain (named by words, confidence 1.00)',
        "note: this model reads no numbers (it was trained before strength prompts); the strength is its own guess.",
        "note: this model removes one degradation at a time; it does not read which to keep or remove of several.",
    ]


def test_grayscale_stays_grayscale(capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path):
    source = save(pixels(1), tmp_path / "gray.png")
    assert restore(capsys, model_folder, source)[0] == 0
    with Image.open(tmp_path / "gray_restored.png") as image:
        assert (image.mode, image.size) == ("L", (WIDTH, HEIGHT))


def test_alpha_is_kept_exactly(capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path):
    rgba = pixels(4)
    source = save(rgba, tmp_path / "cutout.png")
    assert restore(capsys, model_folder, source)[0] == 0
    with Image.open(tmp_path / "cutout_restored.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image)[..., 3], rgba[..., 3])


def test_16_bit_png_is_written_as_16_bit(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    rgb = torch.rand(3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    source = write_photo(Photo(rgb, None, 16, False, tmp_path / "deep.png"), tmp_path / "deep.png")
    assert restore(capsys, model_folder, source)[0] == 0
    restored = read_photo(tmp_path / "deep_restored.png")
    assert restored.bit_depth == 16
    levels = (restored.rgb * 65535).round().to(torch.int64)
    assert (levels % 257).any(), "16-bit levels should not all be 8-bit levels scaled up"


def test_refuses_to_overwrite_without_the_flag(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "photo.png")
    target = tmp_path / "photo_restored.png"
    target.write_bytes(b"precious")
    status, out, err = restore(capsys, model_folder, source)
    assert status == 1
    assert err.splitlines() == [f"tpir-restore: {target}: already exists; pass --overwrite to replace it."]
    assert "wrote" not in out
    assert target.read_bytes() == b"precious"

    status, _, err = restore(capsys, model_folder, source, "--overwrite")
    assert (status, err) == (0, "")
    with Image.open(target) as image:
        assert image.size == (WIDTH, HEIGHT)


def test_a_corrupt_file_fails_alone(capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path):
    first, last = save(pixels(3), tmp_path / "a.png"), save(pixels(3, seed=1), tmp_path / "c.jpg")
    corrupt = tmp_path / "b.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    status, out, err = restore(capsys, model_folder, first, corrupt, last)
    assert status == 1
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tpir-restore: {corrupt}: "), err
    assert (tmp_path / "a_restored.png").is_file() and (tmp_path / "c_restored.jpg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.png",
        "a_restored.png",
        "b.png",
        "c.jpg",
        "c_restored.jpg",
    ]
    assert out.count("wrote ") == 2


def test_a_missing_file_is_named(capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path):
    status, _, err = restore(capsys, model_folder, tmp_path / "nowhere.png")
    assert status == 1
    assert err == f"tpir-restore: {tmp_path / 'nowhere.png'}: no such file.\n"


@pytest.mark.parametrize("prompt", ["", "   ", "rain " * 80], ids=["empty", "blank", "overlong"])
def test_an_unreadable_prompt_stops_before_any_photo(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path, prompt: str
):
    source = save(pixels(3), tmp_path / "photo.png")
    status, out, err = run(capsys, source, "--prompt", prompt, "--model", model_folder)
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("tpir-restore: error: --prompt: the prompt is "), err
    assert out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]


def test_a_missing_model_folder_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    source = save(pixels(3), tmp_path / "photo.png")
    status, out, err = run(capsys, source, "--prompt", PROMPT, "--model", tmp_path / "no_model")
    assert status == 2
    assert err == f"tpir-restore: error: --model {tmp_path / 'no_model'}: no such folder.\n"
    assert out == ""


def test_a_damaged_model_folder_is_one_line(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text((model_folder / "config.json").read_text())
    (damaged / "model.safetensors").write_bytes(b"truncated")
    source = save(pixels(3), tmp_path / "photo.png")
    status, _, err = run(capsys, source, "--prompt", PROMPT, "--model", damaged)
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith(
        f"tpir-restore: error: --model: {damaged}: not a usable"
    ), err
    assert not (tmp_path / "photo_restored.png").exists()


def test_output_takes_exactly_one_image(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    a, b = save(pixels(3), tmp_path / "a.png"), save(pixels(3), tmp_path / "b.png")
    status, _, err = restore(capsys, model_folder, a, b, "-o", tmp_path / "out.png")
    assert status == 2 and "exactly one IMAGE" in err
    assert not (tmp_path / "out.png").exists()
    status, _, _ = restore(capsys, model_folder, a, "-o", tmp_path / "out.png")
    assert status == 0 and (tmp_path / "out.png").is_file()


def test_output_and_out_dir_exclude_each_other(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "a.png")
    status, _, err = restore(capsys, model_folder, source, "-o", tmp_path / "o.png", "--out-dir", tmp_path)
    assert status == 2 and "not allowed with" in err


def test_out_dir_is_created_and_written(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    a, gif = save(pixels(3), tmp_path / "a.png"), save(pixels(3), tmp_path / "anim.gif")
    out_dir = tmp_path / "restored" / "here"
    status, _, err = restore(capsys, model_folder, a, gif, "--out-dir", out_dir)
    assert (status, err) == (0, "")
    # GIF cannot be written: its output is PNG.
    assert sorted(p.name for p in out_dir.iterdir()) == ["a_restored.png", "anim_restored.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "anim.gif", "restored"]


def test_tiled_and_untiled_agree(capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path):
    source = save(pixels(3, height=96, width=80), tmp_path / "big.png")
    tiled, whole = tmp_path / "tiled.png", tmp_path / "whole.png"
    assert restore(capsys, model_folder, source, "-o", tiled, "--tile", "32", "--overlap", "16")[0] == 0
    assert restore(capsys, model_folder, source, "-o", whole, "--tile", "0")[0] == 0
    tiled_rgb, whole_rgb = read_photo(tiled).rgb[None], read_photo(whole).rgb[None]
    assert not torch.equal(tiled_rgb, read_photo(source).rgb[None])
    assert psnr(tiled_rgb, whole_rgb).item() >= 45


@pytest.mark.parametrize(("tile", "overlap"), [("30", "4"), ("-8", "0"), ("32", "32")])
def test_bad_tiling_is_refused(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path, tile: str, overlap: str
):
    source = save(pixels(3), tmp_path / "a.png")
    status, _, err = restore(capsys, model_folder, source, "--tile", tile, "--overlap", overlap)
    assert status == 2 and "tpir-restore: error: --" in err
    assert not (tmp_path / "a_restored.png").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_without_cuda_is_one_line(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "a.png")
    status, _, err = restore(capsys, model_folder, source, "--device", "cuda")
    assert status == 2
    assert err == "tpir-restore: error: --device cuda: CUDA is not available here; use --device cpu.\n"


def test_two_inputs_never_share_an_output(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    (tmp_path / "sub").mkdir()
    a, twin = save(pixels(3), tmp_path / "a.png"), save(pixels(3, seed=1), tmp_path / "sub" / "a.png")
    status, out, err = restore(capsys, model_folder, a, twin, "--out-dir", tmp_path / "out", "--overwrite")
    assert status == 1 and out.count("wrote ") == 1
    assert (
        err
        == f"tpir-restore: {tmp_path / 'out' / 'a_restored.png'}: already written from {a} in this run; give the inputs distinct names.\n"
    )


@pytest.mark.parametrize("during", ["restore", "write"])
def test_ctrl_c_is_one_line_and_leaves_no_half_file(
    capsys: pytest.CaptureFixture[str],
    model_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    during: str,
):
    sources = [save(pixels(3, seed=seed), tmp_path / f"{name}.png") for seed, name in enumerate("abc")]
    calls = 0
    original = Restorer.restore_photo if during == "restore" else Image.Image.save

    def interrupt_the_second(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    if during == "restore":
        monkeypatch.setattr(Restorer, "restore_photo", interrupt_the_second)
    else:
        monkeypatch.setattr(Image.Image, "save", interrupt_the_second)
    status, out, err = restore(capsys, model_folder, *sources, "--out-dir", tmp_path / "out")
    assert status == 130
    assert err == "tpir-restore: interrupted; wrote 1 of 3 photos, nothing half-written.\n"
    assert out.count("wrote ") == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a_restored.png"]  # no .partial file


def counting_restores(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """The source of every photo the model restores from now on."""
    restored: list[Path | None] = []
    original = Restorer.restore_photo

    def count(model: Restorer, photo: Photo, *args: object, **kwargs: object) -> Photo:
        restored.append(photo.source)
        return original(model, photo, *args, **kwargs)

    monkeypatch.setattr(Restorer, "restore_photo", count)
    return restored


def test_an_output_that_cannot_be_written_stops_before_any_restore(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    restored = counting_restores(monkeypatch)
    source = save(pixels(3), tmp_path / "photo.png")
    status, out, err = restore(capsys, model_folder, source, "-o", "/proc/x.png")
    assert status == 2 and out == ""
    assert err.startswith("tpir-restore: error: -o /proc/x.png: cannot write into /proc (") and err.endswith(
        ").\n"
    ), err
    status, out, err = restore(capsys, model_folder, source, "--out-dir", "/proc")
    assert status == 2 and out == ""
    assert err.startswith("tpir-restore: error: --out-dir /proc: cannot write into it ("), err
    assert restored == []


def test_a_low_confidence_prompt_is_said_so(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    source = save(pixels(3), tmp_path / "photo.png")
    # The tiny random encoder places every prompt without a lexicon word near all categories alike.
    status, out, _ = run(capsys, source, "--prompt", "make it look like a cat", "--model", model_folder)
    assert status == 0
    understood, note = out.splitlines()[1:3]
    assert "(understood from the embedding, confidence 0." in understood
    assert re.fullmatch(
        r"note: the prompt is understood with low confidence \(0\.\d\d\): none of its words names a "
        r'degradation and its meaning is only weakly nearest to .+; name what to remove, e\.g\. "remove .+"\.',
        note,
    ), note
    assert "note:" not in restore(capsys, model_folder, source, "--overwrite")[1]  # named by words


def test_the_prompt_is_encoded_once_for_many_tiles_and_files(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    encoded: list[str] = []
    original_encode = TextEncoder.encode

    def count_encodes(
        encoder: TextEncoder, prompts: list[str], *args: object, **kwargs: object
    ) -> torch.Tensor:
        encoded.extend(prompts)
        return original_encode(encoder, prompts, *args, **kwargs)

    forwards: list[torch.Tensor] = []
    original_forward = TextGuidedBackbone.forward

    def count_forwards(
        backbone: TextGuidedBackbone, lq: torch.Tensor, guidance: torch.Tensor
    ) -> torch.Tensor:
        forwards.append(guidance)
        return original_forward(backbone, lq, guidance)

    monkeypatch.setattr(TextEncoder, "encode", count_encodes)
    monkeypatch.setattr(TextGuidedBackbone, "forward", count_forwards)
    sources = [save(pixels(3, seed=seed), tmp_path / f"photo{seed}.png") for seed in range(3)]
    status, out, err = restore(capsys, model_folder, *sources, "--tile", "16", "--overlap", "4")
    assert (status, err) == (0, "")
    assert out.count("wrote ") == 3
    assert encoded == [PROMPT]  # one encoding for 3 files of tile_count(40, 56, 16, 4) = 15 tiles each
    assert len(forwards) == 3 * tile_count(HEIGHT, WIDTH, 16, 4) == 45
    assert all(torch.equal(z, forwards[0]) for z in forwards)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_precision_is_chosen_and_printed(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path, precision: str
):
    source = save(pixels(3), tmp_path / "photo.png")
    status, out, _ = restore(capsys, model_folder, source, "--precision", precision)
    assert status == 0
    assert f"precision: {precision} (asked for" in out
    status, out, _ = restore(capsys, model_folder, source, "--overwrite")
    assert status == 0
    assert re.search(r"^precision: (bf16|fp32) \(auto: this CPU has ", out, re.MULTILINE), out


def test_an_unknown_precision_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
):
    status, _, err = restore(capsys, model_folder, save(pixels(3), tmp_path / "p.png"), "--precision", "fp16")
    assert status == 2
    assert "--precision: invalid choice: 'fp16'" in err
