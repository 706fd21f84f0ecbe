import pytest

from tpir.data.catalogs import bundled_catalog
from tpir.data.datamodule import RestorationDataModule
from tpir.data.tasks import TASKS
from tpir.text.corpus import InstructionCorpus


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
