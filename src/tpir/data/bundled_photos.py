"""The photographs the bundled data configuration trains, validates and tests on: the colour photographs
scikit-image and scikit-learn ship, so that ``make demo`` needs no download."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

# The colour photographs scikit-image and scikit-learn ship, split once for all: training, validation
# (checkpoint selection) and test photos are three disjoint sets.
BUNDLED_TRAIN = (
    "skimage:astronaut.png",
    "skimage:hubble_deep_field.jpg",
    "skimage:ihc.png",
    "skimage:motorcycle_left.png",
    "skimage:motorcycle_right.png",
    "skimage:retina.jpg",
    "sklearn:flower.jpg",
)
BUNDLED_VAL = ("skimage:chelsea.png",)
BUNDLED_TEST = ("skimage:coffee.png", "skimage:rocket.jpg", "sklearn:china.jpg")


def bundled_path(key: str) -> Path:
    """The file of a bundled photograph (``skimage:coffee.png``, ``sklearn:china.jpg``) in its package."""
    package, file_name = key.split(":")
    if package == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent / file_name
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images" / file_name


@functools.cache
def bundled_image(key: str) -> torch.Tensor:
    """A bundled photograph (``skimage:coffee.png``, ``sklearn:china.jpg``) as (3, H, W) uint8."""
    package, file_name = key.split(":")
    if package == "skimage":
        import skimage.io

        array = skimage.io.imread(bundled_path(key))
    else:
        from sklearn.datasets import load_sample_image

        array = load_sample_image(file_name)
    return torch.from_numpy(np.array(array[..., :3], copy=True)).permute(2, 0, 1).contiguous()
