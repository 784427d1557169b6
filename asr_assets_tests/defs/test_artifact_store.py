"""The artifact store steps hand each other files through: writes are atomic and two writers never collide."""

import threading

from asr_assets.defs.resources import ArtifactStoreResource


def test_two_runs_writing_one_artifact_at_once_never_collide(tmp_path):
    """Two runs of one partition write the same manifest at once: every write succeeds, the file is always one
    whole version, and no temporary file is left (the temp name used to be the same for both)."""
    store = ArtifactStoreResource(url=str(tmp_path))
    versions = {name: name.encode() * 50_000 for name in ("first", "second")}
    errors: list[Exception] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(40):
                store.write_bytes(data, "raw_audio", "b1", "manifest.json")
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    writers = [threading.Thread(target=write, args=(data,)) for data in versions.values()]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert errors == []
    assert store.read_bytes("raw_audio", "b1", "manifest.json") in versions.values()
    assert sorted(p.name for p in (tmp_path / "raw_audio" / "b1").iterdir()) == ["manifest.json"]
