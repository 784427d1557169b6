"""`python -m benchmarks profile`: the stage timings run for real on a sample call, ours and (when installed) CTranslate2's."""

from pathlib import Path

import pytest

from benchmarks.profile import format_profile, run_profile, windows_of

pytestmark = pytest.mark.slow  # compiles and times the engine's XLA programs

SAMPLE_CALLS = Path(__file__).resolve().parents[1] / "asr_assets" / "samples" / "calls"


def test_profile_times_every_stage_of_every_engine():
    report = run_profile(str(SAMPLE_CALLS / "call_01_card_block.wav"), windows=2, repeat=1)
    assert report["windows"] == 2  # one 30 s window per channel of the 32 s stereo call
    stages = {(t["engine"], t["stage"]) for t in report["times"]}
    for engine in ("xla-float32", "litert-float32", "litert-int8"):
        assert {(engine, "encoder"), (engine, "generate beam 1"), (engine, "generate beam 5")} <= stages
        assert (engine, "align (beam 5 text)") in stages
    try:
        import ctranslate2  # noqa: F401  (a dev dependency: the reference engine)
    except ImportError:
        pass
    else:
        assert {("ct2-float32", "generate beam 5"), ("ct2-int8", "encoder")} <= stages
    for t in report["times"]:
        assert t["ms"] > 0 and (t["steps"] is None or t["steps"] > 0)
    text = format_profile(report)
    assert "ms/step" in text and "generate beam 5" in text


def test_profile_needs_a_whole_window(tmp_path):
    import numpy as np
    import soundfile as sf

    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(ValueError, match="shorter than one 30 s window"):
        windows_of(str(short), 8)


def test_kernel_rates_cover_both_formats_and_runtimes():
    from benchmarks.profile import format_kernels, kernel_rates

    rows = kernel_rates(repeat=1, scale=16)
    assert {(r["dtype"], r["runtime"]) for r in rows} == {
        ("float32", "xla"),
        ("float32", "onednn"),
        ("bfloat16", "xla"),
        ("bfloat16", "onednn"),
    }
    assert all(r["ms"] > 0 and r["gflops"] > 0 for r in rows)
    assert "output projection, 40 rows" in format_kernels(rows)


def test_first_run_costs_report_every_shape():
    from benchmarks.profile import first_run_costs

    rows = first_run_costs()
    assert len(rows) == 6 and all("first invoke" in r and "second" in r for r in rows)
