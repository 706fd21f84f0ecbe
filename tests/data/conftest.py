"""A small benchmark layout on disk, for the tests of the layout and the catalogs."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A small standard layout: 10 clean images, 3 rain pairs, 2 haze pairs, one test set per task."""
    rng = np.random.default_rng(0)

    def image(value: int | None = None) -> np.ndarray:
        if value is not None:
            return np.full((40, 48, 3), value, np.uint8)
        return rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)

    for i in range(10):
        _save(tmp_path / "Train" / "Denoise" / f"{i:03d}.jpg", image())
    for i in (1, 2, 10):
        _save(tmp_path / "Train" / "Derain" / "rainy" / f"rain-{i}.png", image(100 + i))
        _save(tmp_path / "Train" / "Derain" / "gt" / f"norain-{i}.png", image(i))
    for i in (1400, 1402):
        _save(tmp_path / "Train" / "Dehaze" / "synthetic" / f"{i}_9.png", image(200))
        _save(tmp_path / "Train" / "Dehaze" / "original" / f"{i}.png", image(50))
    _save(tmp_path / "test" / "denoise" / "Tiny" / "a.png", image())
    _save(tmp_path / "test" / "derain" / "TinyRain" / "input" / "rain-001.png", image(120))
    _save(tmp_path / "test" / "derain" / "TinyRain" / "target" / "norain-001.png", image(20))
    _save(tmp_path / "test" / "dehaze" / "TinyHaze" / "input" / "0001_0.8_0.2.jpg", image(210))
    _save(tmp_path / "test" / "dehaze" / "TinyHaze" / "target" / "0001.png", image(60))
    return tmp_path
