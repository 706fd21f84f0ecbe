import io

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.data.degradations.jpeg import JpegParams, add_jpeg, sample_jpeg_params


@pytest.mark.parametrize("quality", [10, 40])
def test_jpeg_equals_pillow_encoding_and_decoding_at_that_quality(quality: int) -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 50, 70, generator=generator), 3, 1, 1)[0]
    compressed, params = add_jpeg(image, generator, quality)
    pixels = image.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="JPEG", quality=quality, subsampling="4:2:0")
    expected = np.array(Image.open(stream).convert("RGB"))
    assert params == JpegParams(quality)
    assert torch.equal(
        compressed.mul(255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(expected)
    )
    assert float((compressed - image).abs().mean()) > 0.002  # it did lose something


def test_jpeg_of_a_batch_is_each_image_compressed() -> None:
    batch = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(1))
    together, _ = add_jpeg(batch, torch.Generator(), 20)
    assert torch.equal(together[1], add_jpeg(batch[1], torch.Generator(), 20)[0])


def test_the_sampler_stays_in_its_range() -> None:
    generator = torch.Generator().manual_seed(6)
    assert all(10 <= sample_jpeg_params(generator).quality <= 60 for _ in range(40))
