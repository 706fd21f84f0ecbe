from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tpir.data.datamodule import DataCatalog, RestorationDataModule, benchmark_catalog, bundled_catalog
from tpir.data.datasets import EvaluationSet, ImageBank, RealPairs, SyntheticPairs, TaskMixture, task_cycle
from tpir.data.degradations import NoiseParams
from tpir.data.layout import DataLayoutError, pair_id, train_pairs
from tpir.data.photos import PhotoError, read_image_uint8
from tpir.data.prompting import PromptWriter
from tpir.data.tasks import TASKS
from tpir.text.corpus import InstructionCorpus

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def save(path: Path, array: np.ndarray) -> Path:
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
        save(tmp_path / "Train" / "Denoise" / f"{i:03d}.jpg", image())
    for i in (1, 2, 10):
        save(tmp_path / "Train" / "Derain" / "rainy" / f"rain-{i}.png", image(100 + i))
        save(tmp_path / "Train" / "Derain" / "gt" / f"norain-{i}.png", image(i))
    for i in (1400, 1402):
        save(tmp_path / "Train" / "Dehaze" / "synthetic" / f"{i}_9.png", image(200))
        save(tmp_path / "Train" / "Dehaze" / "original" / f"{i}.png", image(50))
    save(tmp_path / "test" / "denoise" / "Tiny" / "a.png", image())
    save(tmp_path / "test" / "derain" / "TinyRain" / "input" / "rain-001.png", image(120))
    save(tmp_path / "test" / "derain" / "TinyRain" / "target" / "norain-001.png", image(20))
    save(tmp_path / "test" / "dehaze" / "TinyHaze" / "input" / "0001_0.8_0.2.jpg", image(210))
    save(tmp_path / "test" / "dehaze" / "TinyHaze" / "target" / "0001.png", image(60))
    return tmp_path


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


def test_benchmark_catalog_finds_every_set(layout: Path) -> None:
    catalog = benchmark_catalog(layout, val_images=2, test_levels={"denoise": (15, 50)})
    synthetic = {f"Tiny_{suffix}" for task in TASKS.values() for suffix, _ in task.synthetic_tests}
    assert set(catalog.test) == {"Tiny_sigma15", "Tiny_sigma50", "TinyRain", "TinyHaze"} | synthetic
    assert [len(source) for source, _ in catalog.train["dehaze"]] == [8, 2]  # synthetic on clean + real pairs
    assert len(catalog.val["denoise"]) == 2


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


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(PhotoError, match=r"broken.png: not a readable image"):
        read_image_uint8(broken)


def test_grayscale_and_16_bit_images_become_8_bit_rgb(tmp_path: Path) -> None:
    gray = save(tmp_path / "gray.png", np.full((5, 6), 77, np.uint8))
    assert read_image_uint8(gray).shape == (3, 5, 6)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(deep)
    image = read_image_uint8(deep)
    assert image.shape == (3, 5, 6) and int(image.max()) == 255


def test_mixture_balances_tasks_and_is_seeded(corpus: InstructionCorpus) -> None:
    bank = ImageBank([torch.randint(0, 256, (3, 50, 60), dtype=torch.uint8)], names=["x"])
    sources = {
        "denoise": [(SyntheticPairs(bank, "denoise"), 1.0)],
        "dehaze": [(SyntheticPairs(bank, "dehaze"), 1.0)],
    }
    prompts = {task: corpus.sentences("train", task) for task in sources}
    mixture = TaskMixture(sources, PromptWriter(corpus), {"denoise": 0, "dehaze": 1}, crop_size=32, length=8)
    samples = [mixture[i] for i in range(8)]
    assert [s["task"] for s in samples] == [0, 1] * 4
    assert all(s["lq"].shape == s["gt"].shape == (3, 32, 32) for s in samples)
    nouns = corpus.lexicon["denoise"].nouns
    assert all(s["named"] == "denoise" for s in samples[::2])
    assert all(  # a corpus sentence, or one written from the lexicon ("remove the noise")
        s["prompt"] in prompts["denoise"] or s["prompt"].endswith(tuple(f" the {noun}" for noun in nouns))
        for s in samples[::2]
    )
    torch.manual_seed(123)  # the global RNG plays no part: a key is the same sample in any process
    assert torch.equal(mixture[0]["lq"], samples[0]["lq"])
    next_epoch = mixture[0 + len(mixture)]  # key 8: image 0 of epoch 1, new crop and noise, same task
    assert next_epoch["task"] == 0 and not torch.equal(next_epoch["lq"], samples[0]["lq"])
    mixture.seed = 1
    assert not torch.equal(mixture[0]["lq"], samples[0]["lq"])


def test_task_shares_give_a_task_more_turns_spread_over_the_cycle(corpus: InstructionCorpus) -> None:
    assert task_cycle(["denoise", "derain", "deblur"], {}) == ["denoise", "derain", "deblur"]
    assert task_cycle(["denoise", "derain", "deblur"], {"denoise": 3, "deblur": 2}) == [
        *("denoise", "derain", "deblur"),
        *("denoise", "deblur"),
        "denoise",
    ]
    bank = ImageBank([torch.randint(0, 256, (3, 50, 60), dtype=torch.uint8)], names=["x"])
    sources = {task: [(SyntheticPairs(bank, task), 1.0)] for task in ("denoise", "dehaze")}
    mixture = TaskMixture(
        sources, PromptWriter(corpus), {"denoise": 0, "dehaze": 1}, 32, length=9, shares={"dehaze": 2}
    )
    assert [mixture[i]["task"] for i in range(9)] == [0, 1, 1] * 3


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"derain": 2}, r"task_shares.derain: not a trained task; expected one of denoise, dehaze"),
        ({"dehaze": 0}, r"task_shares.dehaze=0; expected a positive integer"),
        ({"dehaze": 1.5}, r"task_shares.dehaze=1.5; expected a positive integer"),
    ],
)
def test_a_wrong_task_share_is_named(shares: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task_cycle(["denoise", "dehaze"], shares)


def test_evaluation_set_is_the_same_on_every_call(corpus: InstructionCorpus) -> None:
    bank = ImageBank([torch.randint(0, 256, (3, 30, 40), dtype=torch.uint8)], names=["x"])
    prompts = corpus.sentences("test", "denoise")
    evaluation = EvaluationSet(
        "toy", SyntheticPairs(bank, "denoise", NoiseParams(25.0)), "denoise", 0, prompts, seed=3
    )
    first, again = evaluation[0], evaluation[0]
    assert torch.equal(first["lq"], again["lq"]) and first["prompt"] == again["prompt"]
    assert first["set"] == "toy" and first["prompt"] in prompts
    noise = (first["lq"] - first["gt"]).std()
    assert 0.07 < float(noise) < 0.11  # sigma 25 / 255 = 0.098, a little less where clipped


def test_bundled_datamodule_serves_every_task(corpus: InstructionCorpus) -> None:
    datamodule = RestorationDataModule(
        bundled_catalog(), ["denoise", "derain"], corpus, crop_size=48, batch_size=4
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["lq"].shape == (4, 3, 48, 48) and len(batch["prompt"]) == 4
    assert datamodule.evaluation_set_names("val") == ["denoise", "derain"]
    assert datamodule.evaluation_set_names("test") == ["bundled_denoise_sigma25", "bundled_derain"]


def test_unknown_task_is_refused(corpus: InstructionCorpus) -> None:
    with pytest.raises(
        ValueError, match=rf"expected a non-empty subset of the declared tasks \({', '.join(TASKS)}\)"
    ):
        RestorationDataModule(bundled_catalog(), ["desnow"], corpus)


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


def test_dihedral_augmentation_draws_all_eight_and_moves_pairs_together() -> None:
    from tpir.data.datasets import random_dihedral

    image = torch.arange(12.0).view(1, 3, 4)  # no symmetry: each transform gives another array
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        lq, gt = random_dihedral([image, image + 100], generator)
        assert torch.equal(gt, lq + 100)
        seen.add(tuple(lq.flatten().tolist()) + tuple(lq.shape))
    assert len(seen) == 8
    flips_only = {
        tuple(random_dihedral([image], generator, rotate=False)[0].flatten().tolist()) for _ in range(50)
    }
    assert len(flips_only) == 4  # the half turn is a flip of both axes: vertical lines stay vertical
