"""evaluation.py: normalisation, WER counting and scoring, set discovery and selection on a temporary folder."""

from pathlib import Path

import pytest

from asr_assets.asr.evaluation import EvalItem, find_items, normalize, score, select_items, word_errors


def test_normalize_strips_tags_and_punctuation():
    assert normalize("Uh, so <cutoff-aligner> this [laughter] is <unk> IT!") == "so this is it"


def test_word_errors_and_corpus_wer():
    assert word_errors("And so, my fellow Americans", " and so my fellow americans").errors == 0
    e = word_errors("red green blue black", "red green black white")
    assert (e.errors, e.reference_words) == (2, 4)
    assert word_errors("[laughter]", "hello there").errors == 2  # empty reference: every word is an insertion
    # Corpus WER: total edits over total reference words, not a mean of per-file WERs.
    items = [
        EvalItem("s", Path(f"{i}.wav"), ref) for i, ref in enumerate(["red green blue black", "cat dog"])
    ]
    results = [{"channels": [{"text": hyp}]} for hyp in ("red green blue black", "")]
    assert score(items, results)["wer"] == pytest.approx(2 / 6)


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


def test_score_per_set_and_select_spread(tmp_path):
    def result(*texts: str) -> dict:
        return {"channels": [{"text": t} for t in texts]}

    items = [EvalItem("a", tmp_path / "1.wav", "hello world"), EvalItem("b", tmp_path / "2.wav", None)]
    scored = score(items, [result("hello word"), result("x")])
    assert scored["wer"] == 0.5 and scored["sets"]["a"]["wer"] == 0.5 and scored["sets"]["b"]["wer"] is None
    for name in "abcdef":
        (tmp_path / name).mkdir()
        (tmp_path / name / "durations.tsv").write_text("1.wav\t1\n2.wav\t1\n")
    picked = select_items(tmp_path, 6)
    assert len(picked) == 6 and len({i.set_name for i in picked}) == 6
    with pytest.raises(FileNotFoundError):
        select_items(tmp_path / "missing", None)
