"""The hallucination signs (asr/hallucination.py) on synthetic transcripts: a loop, a too-compressible segment,
words over silence, text on a digitally silent channel; and what must not be flagged (digits read in a row)."""

from asr_assets.asr.hallucination import (
    call_reasons,
    channel_reasons,
    repetition_loop,
    words_outside,
)


def _segment(text: str, start: float = 0.0, word_s: float = 0.3) -> dict:
    words = [
        {"word": " " + w, "start": start + i * word_s, "end": start + (i + 1) * word_s, "probability": 0.9}
        for i, w in enumerate(text.split())
    ]
    return {"text": " " + text, "words": words, "compression_ratio": None}


LOOP = "I would like to block my card. " + "Thank you for calling. " * 8


def test_a_looping_transcript_is_flagged():
    assert repetition_loop(LOOP.split()) == "thank you for calling"
    reasons = channel_reasons([_segment(LOOP)], peak_dbfs=-12.0, speech_regions_s=[(0.0, 30.0)])
    assert reasons == ["compression_ratio", "repetition_loop"]
    assert call_reasons([reasons, []], language_uncertain=False) == ["compression_ratio", "repetition_loop"]


def test_numbers_read_digit_by_digit_and_ordinary_speech_are_not_loops():
    card = "my card number is four five three two zero zero zero zero one two eight three zero three six six"
    assert repetition_loop(card.split()) is None
    assert repetition_loop(["no", "no", "no", "I", "said", "no"]) is None
    speech = "hello I would like to block my card please it was stolen this morning thank you"
    assert channel_reasons([_segment(speech)], peak_dbfs=-10.0, speech_regions_s=[(0.0, 6.0)]) == []


def test_words_where_the_detector_hears_silence_are_flagged():
    segment = _segment("thanks for watching and please subscribe", start=20.0)  # 20-21.8 s
    assert words_outside([(w["start"], w["end"]) for w in segment["words"]], [(0.0, 5.0)]) == 6
    assert channel_reasons([segment], peak_dbfs=-30.0, speech_regions_s=[(0.0, 5.0)]) == ["words_in_silence"]
    # a word just past a region's edge (inside the margin) is not
    assert words_outside([(5.1, 5.3)], [(0.0, 5.0)]) == 0


def test_text_on_a_digitally_silent_channel_and_an_uncertain_language_are_flagged():
    reasons = channel_reasons([_segment("you")], peak_dbfs=None, speech_regions_s=None)
    assert reasons == ["text_on_silent_channel"]
    assert call_reasons([[], reasons], language_uncertain=True) == [
        "text_on_silent_channel",
        "language_uncertain",
    ]
    assert channel_reasons([], peak_dbfs=None, speech_regions_s=[]) == []
