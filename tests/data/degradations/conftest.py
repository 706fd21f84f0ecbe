"""An image with structure for the degradations' tests."""

import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """skimage's astronaut, (3, 128, 128) in [0, 1]."""
    image = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1).float() / 255
    return F.interpolate(image[None], size=(128, 128), mode="area")[0]
