import torch

from tpir.text.corpus import InstructionCorpus
from tpir.text.encoder import PretrainingBert
from tpir.text.pretraining_data import IS_NEXT, NOT_NEXT, NextSentencePairs, PretrainingCollator


def test_pairs_are_balanced_and_labelled_by_category(corpus: InstructionCorpus) -> None:
    sentences, labels = corpus.sentences("train"), corpus.labels("train")
    category_of = dict(zip(sentences, labels, strict=True))
    pairs = NextSentencePairs(sentences, labels, num_pairs=400, seed=3)
    items = [pairs[i] for i in range(len(pairs))]
    assert sum(item["next_sentence_label"] == IS_NEXT for item in items) == 200
    for item in items:
        same = category_of[item["sentence_a"]] == category_of[item["sentence_b"]]
        assert same == (item["next_sentence_label"] == IS_NEXT)
        assert item["sentence_a"] != item["sentence_b"]
    assert {item["next_sentence_label"] for item in items} == {IS_NEXT, NOT_NEXT}


def test_pairs_are_reproducible_and_seed_dependent(corpus: InstructionCorpus) -> None:
    args = (corpus.sentences("train"), corpus.labels("train"), 50)
    assert [NextSentencePairs(*args, seed=1)[i] for i in range(50)] == [
        NextSentencePairs(*args, seed=1)[i] for i in range(50)
    ]
    assert [NextSentencePairs(*args, seed=1)[i] for i in range(50)] != [
        NextSentencePairs(*args, seed=2)[i] for i in range(50)
    ]


def test_masking_rate_is_fifteen_percent_of_real_tokens(
    corpus: InstructionCorpus, tiny_bert: PretrainingBert
) -> None:
    pairs = NextSentencePairs(corpus.sentences("train"), corpus.labels("train"), num_pairs=512, seed=0)
    collate = PretrainingCollator(tiny_bert.tokenizer, max_length=64, mlm_probability=0.15, seed=0)
    batch = collate([pairs[i] for i in range(len(pairs))])
    assert set(batch) >= {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
    special = torch.tensor(tiny_bert.tokenizer.all_special_ids)
    masked = batch["labels"] != -100
    original = torch.where(masked, batch["labels"], batch["input_ids"])
    maskable = (batch["attention_mask"] == 1) & ~torch.isin(original, special)
    assert not (masked & torch.isin(original, special)).any(), "a special token was masked"
    assert not (masked & (batch["attention_mask"] == 0)).any(), "padding was masked"
    rate = masked.sum() / maskable.sum()
    assert 0.13 < rate < 0.17, rate
    # 80% of the chosen tokens become [MASK].
    became_mask = (batch["input_ids"] == tiny_bert.tokenizer.mask_token_id) & masked
    assert 0.72 < became_mask.sum() / masked.sum() < 0.88
