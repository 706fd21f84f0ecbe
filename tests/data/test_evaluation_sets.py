import torch

from tpir.data.degradations.noise import NoiseParams
from tpir.data.evaluation_sets import EvaluationSet
from tpir.data.images import ImageBank
from tpir.data.sources import SyntheticPairs
from tpir.text.corpus import InstructionCorpus


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


def test_a_centre_crop_keeps_the_middle_of_both_images(corpus: InstructionCorpus) -> None:
    bank = ImageBank([torch.randint(0, 256, (3, 30, 40), dtype=torch.uint8)], names=["x"])
    prompts = corpus.sentences("test", "denoise")
    whole = EvaluationSet("toy", SyntheticPairs(bank, "denoise", NoiseParams(25.0)), "denoise", 0, prompts, 3)
    cropped = EvaluationSet(
        "toy", SyntheticPairs(bank, "denoise", NoiseParams(25.0)), "denoise", 0, prompts, 3, crop=16
    )
    assert cropped[0]["lq"].shape == (3, 16, 16)
    assert torch.equal(cropped[0]["lq"], whole[0]["lq"][:, 7:23, 12:28])
    assert torch.equal(cropped[0]["gt"], whole[0]["gt"][:, 7:23, 12:28])
