"""asr-assets transcribe / eval through `asr_assets.cli.main(argv)`, reusing the session's Transcriber."""

import json
from pathlib import Path

import pytest

from asr_assets import cli
from asr_assets.asr import transcribe


@pytest.fixture
def shared_transcriber(transcriber, monkeypatch):
    monkeypatch.setattr(transcribe, "Transcriber", lambda model_path=None, **kwargs: transcriber)
    return transcriber


def test_transcribe_prints_one_json_object_per_file(shared_transcriber, sample_calls: list[Path], capsys):
    assert cli.main(["-v", "transcribe", str(sample_calls[0]), "--beam-size", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"file", "duration", "model_version", "channels"}
    assert result["model_version"] == shared_transcriber.model_version and result["duration"] > 20
    assert [c["channel"] for c in result["channels"]] == [0, 1]
    for channel in result["channels"]:
        assert channel["text"] and channel["words"]
        assert set(channel["words"][0]) == {"word", "start", "end", "probability"}


def test_transcribe_reports_bad_file_and_fails(shared_transcriber, tmp_path: Path, capsys):
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    assert cli.main(["transcribe", str(bad)]) == 1
    assert "empty.wav" in capsys.readouterr().err


def test_eval_writes_wer_report(shared_transcriber, sample_calls: list[Path], tmp_path: Path, capsys):
    truth = json.loads((sample_calls[0].parent / "ground_truth.json").read_text())["calls"]
    mono = next(c for c in truth if c["channels"] == 1)
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / mono["file_name"]).symlink_to(sample_calls[0].parent / mono["file_name"])
    reference = " ".join(t["text"] for t in mono["turns"])
    (tmp_path / "set" / "transcripts.tsv").write_text(f"{mono['file_name']}\t{reference}\n")
    out = tmp_path / "report.json"
    assert cli.main(["eval", str(tmp_path), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["files"] == 1 and report["wer"] is not None and 0.0 <= report["wer"] < 0.5
    assert report["speed"] > 0 and "set" in report["sets"]
    assert "ALL" in capsys.readouterr().out


def test_a_missing_path_is_one_line_naming_it_before_the_model_loads(tmp_path: Path, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("the model must not load for a path that does not exist")

    monkeypatch.setattr(transcribe, "Transcriber", never)
    assert cli.main(["transcribe", str(tmp_path / "typo.wav"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"asr-assets transcribe: {tmp_path / 'typo.wav'}: no such file",
        f"asr-assets transcribe: {tmp_path}: is a folder, not a recording",
    ]
