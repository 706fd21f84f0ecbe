"""The training batch as :class:`~tpir.data.batch.TrainingBatch` says: its keys, shapes and dtypes."""

import torch
from torch.utils.data import DataLoader

from tpir.data.batch import TrainingBatch, TrainingSample
from tpir.data.images import ImageBank
from tpir.data.mixture import TaskMixture
from tpir.data.prompting import PromptMix, PromptWriter
from tpir.data.sources import SyntheticPairs
from tpir.text.corpus import InstructionCorpus
from tpir.text.parsing import PromptParser

TASKS = ("denoise", "derain", "dehaze")


def _batches(corpus: InstructionCorpus, batch_size: int = 6) -> list[dict]:
    """Every batch of a mixture of composites whose prompts name some of what each image has."""
    image = torch.randint(90, 160, (3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    bank = ImageBank([image], names=["grey"])
    mixture = TaskMixture(
        {task: [(SyntheticPairs(bank, task), 1.0)] for task in TASKS},
        PromptWriter(corpus),
        {task: index for index, task in enumerate(TASKS)},
        crop_size=32,
        length=36,
        mix=PromptMix(composite=0.7, numeric=0.5),
        rotate=False,
    )
    return list(DataLoader(mixture, batch_size=batch_size))


def test_a_batch_has_the_keys_shapes_and_dtypes_of_a_training_batch(corpus: InstructionCorpus) -> None:
    assert TrainingBatch.__annotations__.keys() == TrainingSample.__annotations__.keys()
    for batch in _batches(corpus):
        assert batch.keys() == TrainingBatch.__annotations__.keys()
        assert batch["lq"].shape == batch["gt"].shape == (6, 3, 32, 32) and batch["lq"].dtype == torch.float32
        assert batch["task"].shape == (6,) and batch["task"].dtype == torch.int64
        assert all(len(batch[key]) == 6 and isinstance(batch[key][0], str) for key in ("prompt", "name"))
        assert batch["named"].shape == (6, len(TASKS)) and batch["named"].dtype == torch.bool
        for key in ("present", "strength", "target_present", "target_strength"):
            assert batch[key].shape == (6, len(TASKS)) and batch[key].dtype == torch.float32


def test_named_flags_the_tasks_the_prompt_names_in_the_columns_of_present(corpus: InstructionCorpus) -> None:
    parser = PromptParser(corpus.lexicon)
    read_by_words = 0
    for batch in _batches(corpus):
        for row, prompt in enumerate(batch["prompt"]):
            named = {task for task, flag in zip(TASKS, batch["named"][row].tolist(), strict=True) if flag}
            present = set(batch["degradations"][row].split(","))
            assert named and named <= present  # no absent or wrong-task prompts in this mix
            assert batch["present"][row][batch["named"][row]].eq(1).all()  # the same columns as present
            assert int(batch["task"][row]) in batch["named"][row].nonzero().flatten().tolist()
            reading = parser.parse(prompt)
            if not reading.is_empty:  # free-form sentences without a lexicon word are read by embedding
                read_by_words += 1
                assert set(reading.removes(TASKS)) == named, prompt
    assert read_by_words > 20
