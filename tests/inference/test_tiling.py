import pytest
import torch
import torch.nn.functional as F

from tpir.inference.tiling import restore_tiled, tile_count
from tpir.metrics.image_quality import psnr

SIZES = [(37, 53, 16, 4), (100, 64, 32, 8), (64, 64, 32, 0), (20, 100, 16, 8), (8, 8, 16, 4)]


def image(height: int, width: int) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height * 1000 + width))


def box_blur(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)


@pytest.mark.parametrize(("height", "width", "tile", "overlap"), SIZES)
def test_identity_gives_the_input_back(height: int, width: int, tile: int, overlap: int) -> None:
    x = image(height, width)
    torch.testing.assert_close(restore_tiled(lambda t: t, x, tile, overlap), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("height", "width", "tile", "overlap"), SIZES)
def test_pointwise_function_matches_the_untiled_call(
    height: int, width: int, tile: int, overlap: int
) -> None:
    x = image(height, width)
    torch.testing.assert_close(
        restore_tiled(lambda t: t * 0.5 + 0.1, x, tile, overlap), x * 0.5 + 0.1, atol=1e-6, rtol=0
    )


def test_spatial_context_blends_to_the_untiled_result() -> None:
    x = image(90, 110)
    tiled = restore_tiled(box_blur, x, tile=32, overlap=16)
    assert psnr(tiled, box_blur(x)).item() >= 45
    # Without overlap the seams show: the blending is what buys the agreement.
    assert psnr(restore_tiled(box_blur, x, tile=32, overlap=0), box_blur(x)).item() < 45


def test_tiles_are_full_size_and_counted() -> None:
    shapes, ticks = [], []

    def record(t: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(t.shape[-2:]))
        return t

    restore_tiled(record, image(37, 53), tile=16, overlap=4, progress=lambda: ticks.append(1))
    assert tile_count(37, 53, 16, 4) == 3 * 5 == len(shapes) == len(ticks)
    assert set(shapes) == {(16, 16)}

    shapes.clear()
    restore_tiled(record, image(20, 100), tile=32, overlap=8)
    assert set(shapes) == {(20, 32)} and len(shapes) == tile_count(20, 100, 32, 8) == 4


def test_no_tile_or_a_small_image_is_one_call() -> None:
    calls = []

    def record(t: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(t.shape))
        return t

    restore_tiled(record, image(40, 70), tile=None, overlap=8)
    restore_tiled(record, image(24, 30), tile=32, overlap=8)
    assert calls == [(1, 3, 40, 70), (1, 3, 24, 30)]
    assert tile_count(40, 70, None, 8) == tile_count(24, 30, 32, 8) == 1


def test_output_is_float32_on_the_cpu() -> None:
    result = restore_tiled(lambda t: t.double(), image(40, 40), tile=16, overlap=4)
    assert result.dtype == torch.float32 and result.device.type == "cpu"


@pytest.mark.parametrize(
    ("tile", "overlap", "message"),
    [(12, 4, "multiple of 8"), (0, 0, "multiple of 8"), (16, 16, "overlap=16"), (16, -1, "overlap=-1")],
)
def test_bad_tile_or_overlap_is_refused(tile: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        restore_tiled(lambda t: t, image(40, 40), tile, overlap)
    with pytest.raises(ValueError, match=message):
        tile_count(40, 40, tile, overlap)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected shape \(1, 3, H, W\)"):
        restore_tiled(lambda t: t, torch.zeros(3, 8, 8), 16, 4)
    with pytest.raises(ValueError, match="restore_fn returned shape"):
        restore_tiled(lambda t: t[..., :-1], image(40, 40), 16, 4)


@pytest.mark.parametrize("batch", [2, 3, 64])
def test_batched_tiles_give_the_one_by_one_result(batch: int) -> None:
    x = image(90, 110)
    sizes = []

    def blur(tiles: torch.Tensor) -> torch.Tensor:
        sizes.append(len(tiles))
        return box_blur(tiles)

    one_by_one = restore_tiled(box_blur, x, tile=32, overlap=8)
    torch.testing.assert_close(restore_tiled(blur, x, tile=32, overlap=8, batch=batch), one_by_one)
    count = tile_count(90, 110, 32, 8)
    assert sum(sizes) == count
    assert max(sizes) == min(batch, count)


def test_a_batch_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="batch=0: expected at least 1"):
        restore_tiled(box_blur, image(8, 8), tile=16, overlap=4, batch=0)
