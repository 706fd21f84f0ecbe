from pathlib import Path

import pytest
import torch

from tpir.text.cache import embed_cached
from tpir.text.classify import CategoryCentroids, accuracy_by_category
from tpir.text.encoder import PromptError, TextEncoder, mean_pool


def test_mean_pool_matches_hand_computation() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[2.0, 0.0], [-50.0, 9.0], [7.0, 7.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    expected = torch.tensor([[2.0, 3.0], [2.0, 0.0]])
    assert torch.allclose(mean_pool(hidden, mask), expected)


def test_mean_pool_checks_shapes() -> None:
    with pytest.raises(ValueError, match=r"should agree on \(N, T\)"):
        mean_pool(torch.zeros(2, 3, 4), torch.ones(2, 4))


def test_encoding_ignores_padding(tiny_encoder: TextEncoder) -> None:
    alone = tiny_encoder.encode(["remove the rain"])
    padded = tiny_encoder.encode(
        ["remove the rain", "please remove all of the haze from this old photo right now"]
    )
    assert padded.shape == (2, tiny_encoder.dim)
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_overlong_prompt_is_refused(tiny_encoder: TextEncoder) -> None:
    with pytest.raises(PromptError, match=r"tokens long; at most 64"):
        tiny_encoder.check_prompt("rain " * 100)


def test_classification_on_a_toy_corpus() -> None:
    embeddings = torch.tensor([[1.0, 0.1], [0.9, -0.1], [0.0, 1.0], [0.1, 0.8]])
    centroids = CategoryCentroids(embeddings, ["rain", "rain", "fog", "fog"])
    assert centroids.predict(torch.tensor([[2.0, 0.3], [-0.1, 3.0]])) == ["rain", "fog"]
    understood = centroids.match(torch.tensor([0.2, 5.0]))
    assert understood.category == "fog"
    assert 0.5 < understood.confidence <= 1.0
    assert understood.similarities["fog"] > understood.similarities["rain"]
    undecided = centroids.match(torch.tensor([1.0, 1.0]))
    assert undecided.confidence < understood.confidence


def test_accuracy_by_category() -> None:
    scores = accuracy_by_category(["a", "b", "b", "b"], ["a", "a", "b", "b"])
    assert scores == {"a": 0.5, "b": 1.0, "overall": 0.75}


def test_cache_reuses_vectors_and_a_changed_encoder_misses(tiny_encoder: TextEncoder, tmp_path: Path) -> None:
    sentences = ["remove the rain", "clear the fog"]
    first = embed_cached(tiny_encoder, sentences, tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    calls = []
    original = tiny_encoder.encode
    tiny_encoder.encode = lambda *a, **k: calls.append(1) or original(*a, **k)
    assert torch.equal(embed_cached(tiny_encoder, sentences, tmp_path), first)
    assert calls == [], "a cache hit should not run the encoder"
    with torch.no_grad():
        weight = tiny_encoder.bert.embeddings.word_embeddings.weight
        weight.add_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
    changed = embed_cached(tiny_encoder, sentences, tmp_path)
    assert calls == [1]
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    assert not torch.allclose(changed, first)
    assert torch.allclose(changed, original(sentences))
