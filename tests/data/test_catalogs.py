from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.data.catalogs import DataCatalog, benchmark_catalog, bundled_catalog
from tpir.data.images import ImageBank
from tpir.data.photos import PhotoError
from tpir.data.sources import RealPairs, SyntheticPairs
from tpir.data.tasks import TASKS
from tpir.evaluation.prompts import prompt_pool
from tpir.evaluation.protocol import evaluation_sets
from tpir.text.corpus import InstructionCorpus
from tpir.text.parsing import PromptParser

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_benchmark_catalog_finds_every_set(layout: Path) -> None:
    catalog = benchmark_catalog(layout, val_images=2, test_levels={"denoise": (15, 50)})
    synthetic = {f"Tiny_{suffix}" for task in TASKS.values() for suffix, _ in task.synthetic_tests}
    expected = {"Tiny_sigma15", "Tiny_sigma50", "TinyRain", "TinyHaze", "Tiny_realistic"}
    assert set(catalog.test) == expected | synthetic
    assert [len(source) for source, _ in catalog.train["dehaze"]] == [8, 2]  # synthetic on clean + real pairs
    assert len(catalog.val["denoise"]) == 2


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the project")
def test_shared_benchmark_data_pairs_up() -> None:
    catalog = benchmark_catalog(SHARED_DATA, source_weights={"derain": {"synthetic": 0.0}})
    ((rain_pairs, weight),) = catalog.train["derain"]
    assert isinstance(rain_pairs, RealPairs) and len(rain_pairs) == 200 and weight == 1.0
    assert {"CBSD68_sigma25", "Rain100L", "SOTS", "HSTS"} <= set(catalog.test)
    task, rain100l = catalog.test["Rain100L"]
    lq, gt = rain100l.pair(0, torch.Generator(), None)
    assert task == "derain" and lq.shape == gt.shape
    assert bool((lq >= gt - 1 / 255).all()), "Rain100L rain is additive"


def _image_ids(sources) -> set[str]:
    return {image for source in sources for image in source.images()}


def test_bundled_training_validation_and_test_photos_are_disjoint() -> None:
    catalog = bundled_catalog()
    catalog.check_validation_is_not_test()
    train = _image_ids(source for sources in catalog.train.values() for source, _ in sources)
    val = _image_ids(catalog.val.values())
    test = _image_ids(source for _, source in catalog.test.values())
    assert val and not val & test and not val & train and not train & test

    on_test = DataCatalog(
        catalog.train, {"denoise": catalog.test["bundled_denoise_sigma25"][1]}, catalog.test
    )
    with pytest.raises(
        ValueError, match=r"the denoise validation set uses coffee\.png, which is also in test set"
    ):
        on_test.check_validation_is_not_test()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the project")
def test_benchmark_validation_images_are_not_test_images() -> None:
    catalog = benchmark_catalog(SHARED_DATA)
    catalog.check_validation_is_not_test()
    assert not _image_ids(catalog.val.values()) & _image_ids(source for _, source in catalog.test.values())


def test_unreadable_images_are_all_named_at_once(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(good)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    bank = ImageBank([good, tmp_path / "empty.png", tmp_path / "text.png"])
    catalog = DataCatalog(
        train={"denoise": [(SyntheticPairs(bank, "denoise"), 1.0)]},
        val={"denoise": SyntheticPairs(bank, "denoise")},
    )
    with pytest.raises(
        PhotoError, match=r"2 image file\(s\) of this data config cannot be read: .*empty\.png.*text\.png"
    ):
        catalog.preload(["denoise"])
    assert bank._cache.keys() == {0}  # the readable one is kept


def test_the_realistic_set_is_tested_where_the_model_knows_the_chains_tasks(layout: Path) -> None:
    catalog = benchmark_catalog(layout, val_images=2)
    corpus = InstructionCorpus.load()
    six = ["denoise", "derain", "dehaze", "deblur", "dejpeg", "resize"]
    (chain,) = [s for s in evaluation_sets(catalog, corpus, six, "random", None, 0) if s.task == "realistic"]
    assert chain.name == "Tiny_realistic" and chain.task_id == six.index("deblur")
    parser = PromptParser(corpus.lexicon)
    chain_tasks = {"deblur", "resize", "denoise", "dejpeg"}
    assert all(set(parser.parse(p).removes(six)) == chain_tasks for p in chain.prompts)
    sample = chain[0]
    assert sample["lq"].shape == sample["gt"].shape and not torch.equal(sample["lq"], sample["gt"])
    assert torch.equal(chain[0]["lq"], sample["lq"])  # fixed seed per image
    assert not any(
        s.task == "realistic" for s in evaluation_sets(catalog, corpus, six[:5], "random", None, 0)
    )
    assert prompt_pool("wrong", "realistic", six, corpus) == corpus.sentences("test", "derain")
