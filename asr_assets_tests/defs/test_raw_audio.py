import hashlib
from pathlib import Path

import numpy as np
import pytest

from asr_assets.defs.raw_audio import CheckedCall, LandedFile, Quarantined, RawAudioConfig, check_file


def _check(data: bytes | None, name: str = "call.wav", config: RawAudioConfig | None = None):
    checksum = hashlib.sha256(data or b"").hexdigest()
    landed = LandedFile(checksum, name, f"file:///landing/{name}", len(data or b""))
    return check_file(landed, data, config or RawAudioConfig())


def test_a_real_call_is_accepted_with_its_properties(sample_calls):
    data = sample_calls[0].read_bytes()
    call, kept = _check(data, sample_calls[0].name)
    assert isinstance(call, CheckedCall) and kept == data
    assert call.call_id == call.checksum == hashlib.sha256(data).hexdigest()
    assert call.sample_rate == 8000 and call.channels == 2 and call.duration_s > 5
    assert call.artifact == f"{call.checksum}.wav" and len(call.peak_dbfs) == 2


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda tone: b"", "empty", "0 bytes"),
        (lambda tone: np.random.default_rng(0).bytes(20_000), "undecodable", "not a readable audio file"),
        (lambda tone: tone(4.0)[: len(tone(4.0)) // 2], "undecodable", "truncated"),
        (lambda tone: tone(0.0), "undecodable", "no audio frames"),
        (lambda tone: tone(2.0, amplitude=0.0), "silent", "silent"),
        (lambda tone: b"\x00\x00\x00\x20ftypM4A " + bytes(64), "unsupported_format", "MP4"),
    ],
    ids=["empty", "random-bytes", "truncated-wav", "zero-seconds", "silent", "m4a"],
)
def test_bad_files_are_quarantined_with_a_reason(make, code, words, write_tone, tmp_path):
    def tone(seconds: float, amplitude: float = 0.3) -> bytes:
        return write_tone(tmp_path / "t.wav", seconds, amplitude=amplitude).read_bytes()

    outcome, kept = _check(make(tone), 'it\'s a "bad" file.wav')
    assert isinstance(outcome, Quarantined) and kept is None
    assert outcome.reason_code == code
    assert words in outcome.reason and 'it\'s a "bad" file.wav' in outcome.reason


def test_too_long_is_quarantined_from_the_header(write_tone, tmp_path):
    data = write_tone(tmp_path / "long.wav", 3.0).read_bytes()
    outcome, _ = _check(data, "long.wav", RawAudioConfig(max_duration_s=2.0))
    assert isinstance(outcome, Quarantined) and outcome.reason_code == "too_long"


def test_missing_or_changed_files_are_quarantined(sample_calls):
    landed = LandedFile("0" * 64, "gone.wav", "file:///landing/gone.wav", 10)
    assert check_file(landed, None, RawAudioConfig())[0].reason_code == "missing"
    assert (
        check_file(landed, Path(sample_calls[0]).read_bytes(), RawAudioConfig())[0].reason_code == "changed"
    )


def _wav(path: Path, samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> bytes:
    import soundfile as sf

    sf.write(path, samples, sample_rate, subtype=subtype)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("256 channels at 1 Hz", "too_many_channels"),
        ("1 Hz declaring 1000 s", "bad_sample_rate"),
        ("32 channels", "too_many_channels"),
        ("NaN samples", "non_finite"),
        ("all NaN", "non_finite"),
        ("+Inf", "non_finite"),
        ("one sample", "too_short"),
        ("0.2 s", "too_short"),
    ],
)
def test_hostile_files_are_quarantined_before_they_cost_memory(kind, code, tmp_path):
    """A 7 MB header asked for 110 GiB, a 2 KB file cost 4 minutes, NaN passed as silence (F2, F8, F9)."""
    import tracemalloc

    rng = np.random.default_rng(1)
    speech = (0.3 * rng.standard_normal(8000 * 2)).astype(np.float32)
    path = tmp_path / "h.wav"
    if kind == "256 channels at 1 Hz":
        data = _wav(path, np.zeros((7000, 256), np.int16), 1, "PCM_16")
    elif kind == "1 Hz declaring 1000 s":
        data = _wav(path, rng.integers(-9000, 9000, (1000, 1)).astype(np.int16), 1, "PCM_16")
    elif kind == "32 channels":
        data = _wav(path, np.tile(speech[:, None], (1, 32)), 8000)
    elif kind == "NaN samples":
        data = _wav(
            path, np.where(np.arange(speech.size) % 100 == 0, np.nan, speech).astype(np.float32), 8000
        )
    elif kind == "all NaN":
        data = _wav(path, np.full(16000, np.nan, np.float32), 8000)
    elif kind == "+Inf":
        data = _wav(path, np.where(np.arange(speech.size) == 50, np.inf, speech).astype(np.float32), 8000)
    elif kind == "one sample":
        data = _wav(path, speech[:1], 8000)
    else:
        data = _wav(path, speech[:1600], 8000)
    tracemalloc.start()
    outcome, kept = _check(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(outcome, Quarantined) and kept is None
    assert outcome.reason_code == code, outcome.reason
    assert "\n" not in outcome.reason and "call.wav" in outcome.reason
    assert peak < 100 * 2**20  # checked from the header, never decoded into gigabytes


def test_an_unexpected_error_quarantines_only_that_file(sample_calls, monkeypatch):
    """Only decode errors were quarantined: a MemoryError failed the whole batch, on every retry (F2)."""
    import asr_assets.defs.raw_audio as raw_audio_module

    real = raw_audio_module.load_audio_bytes

    def explode(data, name, **kwargs):
        if name == "poison.wav":
            raise MemoryError("Unable to allocate 110. GiB")
        return real(data, name, **kwargs)

    monkeypatch.setattr(raw_audio_module, "load_audio_bytes", explode)
    data = sample_calls[0].read_bytes()
    poisoned, _ = _check(data, "poison.wav")
    fine, kept = _check(data, "fine.wav")
    assert isinstance(poisoned, Quarantined) and poisoned.reason_code == "internal_error"
    assert "MemoryError" in poisoned.reason and "poison.wav" in poisoned.reason
    assert isinstance(fine, CheckedCall) and kept == data


def test_a_name_with_a_newline_cannot_inject_log_lines():
    outcome, _ = _check(b"", "evil\nINFO forged line.wav")
    assert isinstance(outcome, Quarantined) and "\n" not in outcome.reason


def test_a_rerun_after_the_landing_file_is_gone_uses_the_checked_copy(
    asr_home, database_url, write_tone, monkeypatch
):
    """Re-materialising a batch whose landing files were cleaned up keeps its calls (it used to quarantine them
    all as "missing" although the checked copies were in the artifact store)."""
    import dagster as dg

    from asr_assets.defs.partitions import ingest_batches
    from asr_assets.defs.raw_audio import raw_audio
    from asr_assets.defs.resources import ArtifactStoreResource, LandingZoneResource, PostgresResource
    from asr_assets.defs.sensors import landing_sensor
    from asr_assets.platform.artifacts import MANIFEST

    monkeypatch.setenv("ASR_DATABASE_URL", database_url)
    landing = asr_home / "landing"
    landing.mkdir()
    # content no other test of the session registers (the registry is shared by the session's database)
    write_tone(landing / "kept.wav", 2.0, amplitude=0.1 + np.random.default_rng().random() / 2)
    resources = {
        "postgres": PostgresResource(),
        "artifacts": ArtifactStoreResource(),
        "landing": LandingZoneResource(),
    }
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"landing": LandingZoneResource(), "postgres": PostgresResource()}
        )
        (key,) = {k for r in landing_sensor(context).dynamic_partitions_requests for k in r.partition_keys}
        instance.add_dynamic_partitions(ingest_batches.name, [key])
        for _ in range(2):  # the second run finds no landing file
            result = dg.materialize([raw_audio], partition_key=key, instance=instance, resources=resources)
            assert result.success
            (landing / "kept.wav").unlink(missing_ok=True)
    manifest = ArtifactStoreResource().read_json("raw_audio", key, MANIFEST)
    assert [c["file_name"] for c in manifest["calls"]] == ["kept.wav"] and manifest["quarantine"] == []


def test_a_file_over_the_size_limit_is_never_read_whole(write_tone, tmp_path):
    from asr_assets.defs.raw_audio import read_landed
    from asr_assets.defs.resources import ArtifactStoreResource

    path = write_tone(tmp_path / "big.wav", 2.0)
    data = path.read_bytes()
    landed = LandedFile(hashlib.sha256(data).hexdigest(), "big.wav", path.as_uri(), len(data))
    config = RawAudioConfig(max_size_bytes=1000)
    store = ArtifactStoreResource(url=str(tmp_path / "artifacts"))
    read = read_landed(store, "b1", landed, config.max_size_bytes, log=None)
    assert len(read) == 1001  # one byte past the limit, not the 64 KB file
    outcome, _ = check_file(landed, read, config)
    assert isinstance(outcome, Quarantined) and outcome.reason_code == "too_large"


def test_a_partition_the_sensor_never_registered_is_refused(asr_home, embedded_database_url, monkeypatch):
    """A typed-in partition key (added by hand in the UI) is an error naming the fix, not a green empty run."""
    import dagster as dg

    from asr_assets.defs.partitions import ingest_batches
    from asr_assets.defs.raw_audio import raw_audio
    from asr_assets.defs.resources import ArtifactStoreResource, LandingZoneResource, PostgresResource

    monkeypatch.setenv("ASR_DATABASE_URL", embedded_database_url)
    resources = {
        "postgres": PostgresResource(),
        "artifacts": ArtifactStoreResource(),
        "landing": LandingZoneResource(),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ingest_batches.name, ["batch-typed-by-hand"])
        result = dg.materialize(
            [raw_audio], partition_key="batch-typed-by-hand", instance=instance, resources=resources,
            raise_on_error=False,
        )  # fmt: skip
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "not an ingest batch the landing sensor registered" in str(failure.step_failure_data.error.message)
