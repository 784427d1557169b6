"""Models as assets and the quality gate: tiny.en is registered, evaluated on the shipped English set and promoted;
a worse candidate (tiny.en with noise in its decoder weights, a real checkpoint that transcribes worse) is
evaluated and refused by the blocking check, so its promotion never runs and tiny.en stays promoted; and the
promotion alone refuses it too. Then a batch is transcribed by the promoted version."""

import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg2
import pytest

from asr_assets import settings
from asr_assets.asr.checkpoints import default_model_path
from asr_assets.asr.checkpoints.ct2 import _Reader
from asr_assets.defs.models import CHECK_NAME, asr_model, asr_model_eval, asr_model_promotion, asr_models
from asr_assets.defs.resources import PostgresResource, WhisperModelResource
from asr_assets_tests.conftest import throwaway_database

pytestmark = [pytest.mark.slow]
FLOAT16 = 4  # CTranslate2's dtype code


def noisy_copy(source: Path, target: Path, relative_noise: float = 0.6, seed: int = 7) -> Path:
    """A copy of a float16 CTranslate2 checkpoint with Gaussian noise on every decoder weight."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.name != "model.bin" and path.is_file():
            shutil.copyfile(path, target / path.name)
    data = bytearray((source / "model.bin").read_bytes())
    reader, rng = _Reader(bytes(data), source / "model.bin"), np.random.default_rng(seed)
    version = reader.u32()
    assert version >= 4
    reader.string(), reader.u32()  # spec name, revision
    for _ in range(reader.u32()):
        name = reader.string()
        shape = tuple(reader.u32() for _ in range(reader.u8()))
        code, size = reader.u8(), reader.u32()
        start = reader.pos
        reader.take(size)
        if code == FLOAT16 and name.startswith("decoder/layer") and len(shape) == 2:
            weights = np.frombuffer(bytes(data[start : start + size]), np.float16).astype(np.float32)
            weights += rng.normal(0.0, relative_noise * float(weights.std()), weights.shape)
            data[start : start + size] = weights.astype(np.float16).tobytes()
    (target / "model.bin").write_bytes(bytes(data))
    return target


@pytest.fixture
def models_database(embedded_server_url, monkeypatch):
    """A database of its own: promotions are global state that would reroute other tests' batches."""
    for url in throwaway_database(embedded_server_url, prefix="asr_models"):
        monkeypatch.setenv("ASR_DATABASE_URL", url)
        yield url


def _promoted(url: str) -> dict[str, tuple[str, str]]:
    conn = psycopg2.connect(settings.libpq_url(url))
    try:
        with conn.cursor() as cur:
            cur.execute("select language, model_name, model_version from asr_raw.promoted_models")
            return {lang: (name, version) for lang, name, version in cur.fetchall()}
    finally:
        conn.close()


EVAL_CONFIG = {"ops": {"asr_model_eval": {"config": {"include_shared_eval": False}}}}


def _run(instance, name: str, selection, run_config=EVAL_CONFIG):
    resources = {"postgres": PostgresResource(), "whisper": WhisperModelResource()}
    return dg.materialize(
        selection,
        partition_key=name,
        instance=instance,
        resources=resources,
        run_config=run_config,
        raise_on_error=False,
    )


def test_a_worse_candidate_is_refused_by_the_gate(asr_home, models_database, monkeypatch, tmp_path):
    candidate = noisy_copy(default_model_path(), tmp_path / "tiny-noisy")
    monkeypatch.setenv("ASR_CANDIDATE_MODELS", f"tiny-noisy={candidate}")
    graph = [asr_model, asr_model_eval, asr_model_promotion]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(asr_models.name, ["tiny.en", "tiny-noisy"])

        first = _run(instance, "tiny.en", graph)
        assert first.success
        check = first.get_asset_check_evaluations()[0]
        assert check.check_name == CHECK_NAME and check.passed  # nothing promoted yet for English
        wer_tiny = first.asset_materializations_for_node("asr_model_eval")[0].metadata["wer_en"].value
        assert 0 < wer_tiny < 0.3
        (_, tiny_version) = _promoted(models_database)["en"]
        assert _promoted(models_database) == {"en": ("tiny.en", tiny_version)}

        worse = _run(instance, "tiny-noisy", graph)
        check = worse.get_asset_check_evaluations()[0]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        wer_noisy = worse.asset_materializations_for_node("asr_model_eval")[0].metadata["wer_en"].value
        assert wer_noisy > wer_tiny + 0.01
        assert "worse by" in check.metadata["comparison"].value
        # the blocking check kept the promotion from running at all
        assert not worse.asset_materializations_for_node("asr_model_promotion")
        assert _promoted(models_database) == {"en": ("tiny.en", tiny_version)}

        # promoting alone (without the evaluation in the same run) applies the same rule
        alone = _run(instance, "tiny-noisy", [asr_model_promotion], run_config={})
        assert not alone.success
        assert _promoted(models_database) == {"en": ("tiny.en", tiny_version)}
