import hashlib

import pytest

from asr_assets.local.landing import land_files, safe_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("call 01.wav", "call 01.wav"),
        ('it\'s a "quoted" call.wav', 'it\'s a "quoted" call.wav'),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\evil.wav", "evil.wav"),
        ("..", "unnamed"),
        (".hidden.wav", "hidden.wav"),
        ("a\nb\x00c.wav", "a_b_c.wav"),
    ],
)
def test_safe_name_stays_inside_the_folder(name, expected, tmp_path):
    safe = safe_name(name)
    assert safe == expected
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()


def test_land_files_copies_then_renames_and_keeps_different_content_apart(tmp_path, sample_calls):
    landing = tmp_path / "landing"
    src = tmp_path / "src"
    src.mkdir()
    a = src / "call 'one'.wav"
    a.write_bytes(sample_calls[0].read_bytes())
    landed, _ = land_files([a], landing)
    assert [p.name for p in landing.iterdir()] == ["call 'one'.wav"]
    assert landed[0].checksum == hashlib.sha256(a.read_bytes()).hexdigest()
    # same name, other content: lands under a suffixed name; same content again: nothing new
    other = tmp_path / "other"
    other.mkdir()
    b = other / "call 'one'.wav"
    b.write_bytes(sample_calls[1].read_bytes())
    second, _ = land_files([b, a], landing)
    assert second[0].name == f"call 'one'-{second[0].checksum[:8]}.wav"
    assert second[1].name == "call 'one'.wav"
    assert sorted(p.name for p in landing.iterdir()) == sorted({second[0].name, "call 'one'.wav"})
