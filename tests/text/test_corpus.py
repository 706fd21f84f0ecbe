from pathlib import Path

import pytest

from tpir.data.tasks import TASKS
from tpir.text.corpus import CorpusError, InstructionCorpus, read_prompt_file


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_bundled_corpus_has_enough_varied_sentences(corpus: InstructionCorpus) -> None:
    assert set(corpus.task_categories) == set(TASKS)  # a category per declared task
    for category in corpus.task_categories:
        assert len(corpus.sentences("train", category)) >= 50
        assert len(corpus.sentences("test", category)) >= 15
    assert "remove all degradation" in corpus.sentences("train", "blind")


def test_duplicate_sentence_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "# header", "derain\tRemove the rain.", "derain\tremove the rain")
    with pytest.raises(CorpusError, match=r"p\.tsv:3: duplicate sentence .*first at .*p\.tsv:2"):
        read_prompt_file(path)


def test_empty_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "derain\tRemove the rain.", "", "dehaze\tClear the fog.")
    with pytest.raises(CorpusError, match=r"p\.tsv:2: empty line"):
        read_prompt_file(path)


def test_line_without_tab_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "p.tsv", "derain Remove the rain.")
    with pytest.raises(CorpusError, match=r"p\.tsv:1: expected 'category<TAB>sentence', found 0 tabs"):
        read_prompt_file(path)


def make_corpus(tmp_path: Path, test_lines: list[str]) -> InstructionCorpus:
    train = write(
        tmp_path / "train.tsv",
        "rain\tRemove the rain.",
        "rain\tNo more rain.",
        "fog\tClear the fog.",
        "fog\tLift the mist.",
    )
    test = write(tmp_path / "test.tsv", *test_lines)
    return InstructionCorpus.from_files([train], [test])


def test_unknown_test_category_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        CorpusError, match=r"test\.tsv:1: unknown category 'snow' \(expected one of rain, fog\)"
    ):
        make_corpus(tmp_path, ["snow\tRemove the snow."])


def test_sentence_in_both_splits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"test\.tsv:1: .*already appears at .*train\.tsv:2.*both splits"):
        make_corpus(tmp_path, ["rain\tno more rain!"])


def test_new_category_comes_by_folder(tmp_path: Path) -> None:
    write(
        tmp_path / "blur" / "train.tsv", "blur\tSharpen this blurry photo.", "blur\tRemove the motion blur."
    )
    write(tmp_path / "blur" / "test.tsv", "blur\tMake it crisp again.")
    corpus = InstructionCorpus.load([tmp_path / "blur"])
    assert "blur" in corpus.categories
    assert corpus.sentences("test", "blur") == ["Make it crisp again."]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"nowhere\.tsv: prompt file not found"):
        read_prompt_file(tmp_path / "nowhere.tsv")


def test_a_third_field_holds_tags(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.tsv",
        "derain\ta dog on the porch. i love the grain, just remove the rain\tdescribed keep:denoise",
        "blind\tenhance this photo\timprove",
        "derain\tRemove the rain.",
    )
    liked, improve, plain = read_prompt_file(path)
    assert liked.tags == ("described", "keep:denoise") and liked.kept == ("denoise",)
    assert liked.kinds == ("described", "keep") and improve.kinds == ("improve",) and improve.kept == ()
    assert plain.tags == () and plain.kinds == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("derain\tRemove the rain.\tliked", r"p\.tsv:1: tag 'liked'; expected described, improve or keep:"),
        ("derain\tRemove the rain.\tkeep", r"tag 'keep'; expected"),
        ("derain\tRemove the rain.\tdescribed:denoise", r"tag 'described:denoise'; expected"),
        ("derain\tRemove the rain, keep the rain.\tkeep:derain", r"keeps only what it does not remove"),
        ("blind\tEnhance it, keep the grain.\tkeep:denoise", r"a blind one keeps nothing"),
        ("derain\tRemove the rain.\tdescribed\textra", r"found 3 tabs"),
    ],
)
def test_a_bad_tag_is_named(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        read_prompt_file(write(tmp_path / "p.tsv", line))


def test_a_kept_category_the_corpus_lacks_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"test\.tsv:1: unknown category 'snow'"):
        make_corpus(tmp_path, ["rain\tI love the snow, remove the rain.\tkeep:snow"])
