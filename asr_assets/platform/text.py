"""Text as it goes into reasons, log lines and check tables."""


def one_line(text: str) -> str:
    """text with control characters (newline, ESC, U+2028...) escaped: reasons and log lines stay one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
