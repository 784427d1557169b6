"""Whisper's tokenizer over a Hugging Face `tokenizer.json` (byte-level BPE, `tokenizers` library).

Same behaviour as faster_whisper/tokenizer.py (itself openai/whisper tokenizer.py without tiktoken): special ids
are looked up by their token string, timestamps are the ids after <|notimestamps|> (tokenizer.json does not list
them), `decode` drops every id >= <|endoftext|>, and words are split on spaces, or on decodable unicode boundaries
for languages written without spaces. All ids are plain attributes computed once; nothing changes after init.
"""

import string
from collections.abc import Sequence
from pathlib import Path

import tokenizers

from asr_assets.asr.constants import TIME_PRECISION

TASKS = ("transcribe", "translate")
# faster_whisper/tokenizer.py _LANGUAGE_CODES (openai/whisper LANGUAGES keys, in its order).
LANGUAGE_CODES = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de", "el",
    "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht", "hu",
    "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg",
    "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro",
    "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk",
    "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
# Written without spaces between words: split words at unicode boundaries instead.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})


class Tokenizer:
    """Token ids and text for one model, task and language.

    Attributes (ids): eot, sot, sot_prev, sot_lm, no_speech, no_timestamps, timestamp_begin, transcribe,
    translate; `language` and `task` are the ids in sot_sequence (None for English-only models);
    `language_code` is the language's code ("en" for English-only models).
    """

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        *,
        multilingual: bool,
        task: str | None = "transcribe",
        language: str | None = "en",
    ):
        self.tokenizer = tokenizer
        self.multilingual = multilingual
        self.eot = self._id("<|endoftext|>")
        self.sot = self._id("<|startoftranscript|>")
        self.translate = self._id("<|translate|>")
        self.transcribe = self._id("<|transcribe|>")
        self.sot_lm = self._id("<|startoflm|>")
        self.sot_prev = self._id("<|startofprev|>")
        no_speech = tokenizer.token_to_id("<|nospeech|>") or tokenizer.token_to_id("<|nocaptions|>")
        if no_speech is None:
            raise ValueError(
                "tokenizer.json has neither <|nospeech|> nor <|nocaptions|>; is it a Whisper tokenizer?"
            )
        self.no_speech: int = no_speech
        self.no_timestamps = self._id("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1  # <|0.00|>; timestamps are not in tokenizer.json
        self.language_tokens: dict[str, int] = {}
        if multilingual:
            for code in LANGUAGE_CODES:
                token_id = tokenizer.token_to_id(f"<|{code}|>")
                if token_id is not None:
                    self.language_tokens[code] = token_id
            if task not in TASKS:
                raise ValueError(f"{task!r} is not a valid task (accepted tasks: {', '.join(TASKS)})")
            if language not in self.language_tokens:
                raise ValueError(
                    f"{language!r} is not a language of this model (accepted: {', '.join(self.language_tokens)})"
                )
            self.task: int | None = self._id(f"<|{task}|>")
            self.language: int | None = self.language_tokens[language]
            self.language_code: str = language
        else:
            self.task = None
            self.language = None
            self.language_code = "en"
        self.sot_sequence: tuple[int, ...] = tuple(
            t for t in (self.sot, self.language, self.task) if t is not None
        )  # (sot,) for English-only models, (sot, language, task) otherwise
        self.non_speech_tokens: tuple[int, ...] = self._non_speech_tokens()

    @classmethod
    def from_file(
        cls,
        tokenizer_json: str | Path,
        *,
        multilingual: bool,
        task: str | None = "transcribe",
        language: str | None = "en",
    ) -> "Tokenizer":
        return cls(
            tokenizers.Tokenizer.from_file(str(tokenizer_json)),
            multilingual=multilingual,
            task=task,
            language=language,
        )

    def with_language(self, language: str, task: str | None = None) -> "Tokenizer":
        """The same tokenizer for another language (and task), e.g. after language detection."""
        if not self.multilingual:
            return self
        task = task or ("translate" if self.task == self.translate else "transcribe")
        return Tokenizer(self.tokenizer, multilingual=True, task=task, language=language)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, tokens: Sequence[int]) -> str:
        """Text of the tokens below eot (timestamps and other specials are dropped)."""
        return self.tokenizer.decode([t for t in tokens if t < self.eot])

    def decode_with_timestamps(self, tokens: Sequence[int]) -> str:
        """Text with timestamp tokens written as <|1.08|>; other specials are left to tokenizers.decode."""
        outputs: list[str | list[int]] = [[]]
        for token in tokens:
            if token >= self.timestamp_begin:
                outputs.append(f"<|{(token - self.timestamp_begin) * TIME_PRECISION:.2f}|>")
                outputs.append([])
            else:
                outputs[-1].append(token)  # type: ignore[union-attr]
        return "".join(s if isinstance(s, str) else self.tokenizer.decode(s) for s in outputs)

    def split_to_word_tokens(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Words and the tokens of each, as faster-whisper splits them for word timestamps."""
        if self.language_code in NO_SPACE_LANGUAGES:
            return self.split_tokens_on_unicode(tokens)
        return self.split_tokens_on_spaces(tokens)

    def split_tokens_on_unicode(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Cut wherever the tokens so far decode to whole characters (a U+FFFD means a split multi-byte char)."""
        decoded_full = self.decode_with_timestamps(tokens)
        replacement_char = "\ufffd"
        words: list[str] = []
        word_tokens: list[list[int]] = []
        current: list[int] = []
        unicode_offset = 0
        for token in tokens:
            current.append(token)
            decoded = self.decode_with_timestamps(current)
            index = decoded.find(replacement_char)
            # A U+FFFD that is also in the full text is a real one, not a character cut in half.
            if index < 0 or (
                index + unicode_offset < len(decoded_full)
                and decoded_full[index + unicode_offset] == replacement_char
            ):
                words.append(decoded)
                word_tokens.append(current)
                current = []
                unicode_offset += len(decoded)
        return words, word_tokens

    def split_tokens_on_spaces(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Glue each subword to the previous word unless it starts with a space, is punctuation or special."""
        subwords, subword_tokens_list = self.split_tokens_on_unicode(tokens)
        words: list[str] = []
        word_tokens: list[list[int]] = []
        for subword, subword_tokens in zip(subwords, subword_tokens_list, strict=True):
            special = subword_tokens[0] >= self.eot
            with_space = subword.startswith(" ")
            punctuation = subword.strip() in string.punctuation
            if special or with_space or punctuation or not words:
                words.append(subword)
                word_tokens.append(subword_tokens)
            else:
                words[-1] = words[-1] + subword
                word_tokens[-1].extend(subword_tokens)
        return words, word_tokens

    def _id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"tokenizer.json has no {token} token; is it a Whisper tokenizer?")
        return token_id

    def _non_speech_tokens(self) -> tuple[int, ...]:
        """Ids of speaker tags, music notes and bracketed annotations (openai/whisper's list), to suppress.

        Hyphens and single quotes stay allowed between words, only the space-prefixed forms are suppressed.
        """
        symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
        symbols += [
            "<<",
            ">>",
            "<<<",
            ">>>",
            "--",
            "---",
            "-(",
            "-[",
            "('",
            '("',
            "((",
            "))",
            "(((",
            ")))",
            "[[",
            "]]",
            "{{",
            "}}",
            "♪♪",
            "♪♪♪",
        ]
        # U+2640..U+267F share their first two UTF-8 bytes: suppressing the first token is enough.
        miscellaneous = set("♩♪♫♬♭♮♯")
        result = {self.encode(" -")[0], self.encode(" '")[0]}
        for symbol in symbols + list(miscellaneous):
            for tokens in (self.encode(symbol), self.encode(" " + symbol)):
                if len(tokens) == 1 or symbol in miscellaneous:
                    result.add(tokens[0])
        return tuple(sorted(result))
