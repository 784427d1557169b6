"""evaluation.py: normalisation, WER counting and set discovery on a temporary folder."""

import pytest

from asr_assets.asr.evaluation import corpus_wer, find_items, normalize, word_errors


def test_normalize_strips_tags_and_punctuation():
    assert normalize("Uh, so <cutoff-aligner> this [laughter] is <unk> IT!") == "so this is it"


def test_word_errors_and_corpus_wer():
    assert word_errors("And so, my fellow Americans", " and so my fellow americans").errors == 0
    e = word_errors("red green blue black", "red green black white")
    assert (e.errors, e.reference_words) == (2, 4)
    assert word_errors("[laughter]", "hello there").errors == 2  # empty reference: every word is an insertion
    assert corpus_wer([("red green blue black", "red green blue black"), ("cat dog", "")]) == pytest.approx(
        2 / 6
    )


def test_find_items_walks_sets(tmp_path):
    (tmp_path / "s1" / "wav").mkdir(parents=True)
    (tmp_path / "s1" / "transcripts.tsv").write_text("wav/b.wav\tHello.\nwav/a.wav\tHi\n")
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "durations.tsv").write_text("x.flac\t3.0\n")
    items = find_items(tmp_path)
    assert [(i.set_name, i.path.name, i.reference) for i in items] == [
        ("s1", "a.wav", "Hi"),
        ("s1", "b.wav", "Hello."),
        ("s2", "x.flac", None),
    ]
    with pytest.raises(FileNotFoundError, match="not a folder"):
        find_items(tmp_path / "missing")
