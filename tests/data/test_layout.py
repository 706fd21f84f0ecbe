from pathlib import Path

import pytest
import torch

from tpir.data.catalogs import benchmark_catalog
from tpir.data.layout import DataLayoutError, pair_id, train_pairs
from tpir.data.sources import RealPairs
from tpir.data.tasks import TASKS


def test_pair_ids_follow_the_benchmark_names() -> None:
    assert pair_id(Path("rain-12.png")) == pair_id(Path("norain-12.jpg")) == "12"
    assert pair_id(Path("0001_0.8_0.2.jpg")) == pair_id(Path("0001.png")) == "0001"
    assert pair_id(Path("1400_9.png")) == "1400"


def test_rain_pairs_match_by_id_not_by_order(layout: Path) -> None:
    pairs = train_pairs(layout, TASKS["derain"])
    assert [(p.lq.name, p.gt.name) for p in pairs] == [
        ("rain-1.png", "norain-1.png"),
        ("rain-10.png", "norain-10.png"),
        ("rain-2.png", "norain-2.png"),
    ]
    lq, gt = RealPairs(pairs).pair(1, torch.Generator(), None)
    assert torch.allclose(lq - gt, torch.full_like(lq, 100 / 255), atol=1e-6)


def test_missing_root_shows_the_layout(tmp_path: Path) -> None:
    with pytest.raises(
        DataLayoutError,
        match=r"(?s)does not exist.*TPIR_DATA_DIR.*Train/Derain/rainy/ +with Train/Derain/gt/",
    ):
        benchmark_catalog(tmp_path / "nowhere")


def test_unpaired_input_is_named(layout: Path) -> None:
    (layout / "Train" / "Derain" / "gt" / "norain-2.png").unlink()
    with pytest.raises(DataLayoutError, match=r"rain-2.png has no target with id '2'"):
        train_pairs(layout, TASKS["derain"])
