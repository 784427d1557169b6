"""Typed engine errors.

The pipeline quarantines a file only on `AudioDecodeError` / `UnsupportedAudioError` (the file itself is bad);
any other exception fails the step so Dagster retries it. Messages name the offending file and say what to do,
never a transcript's text or a secret.
"""


class AsrError(Exception):
    """Base class of every error the engine raises on purpose."""


class AudioDecodeError(AsrError):
    """The audio file is empty, corrupt, truncated, too long or otherwise cannot be decoded."""


class UnsupportedAudioError(AsrError):
    """The file is in a container or codec libsndfile cannot read (e.g. AAC in .m4a)."""


class CheckpointError(AsrError):
    """A model checkpoint is missing, incomplete or in a layout the loader does not understand."""
