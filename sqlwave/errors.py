"""One error base, a few narrow subclasses: the CLI prints them as `Error: …` and exits 1."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SqlwaveError(Exception):
    """A problem with the user's input or options; the message says what and how to fix it."""


class InputError(SqlwaveError):
    """The access log cannot be read or does not have the expected shape."""


class ParameterError(SqlwaveError):
    """An option or argument is out of range."""


class UnsafeSqlError(SqlwaveError):
    """SQL read from a file was refused before it ran."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ' Did you mean "x"?' for the closest candidate, or '' when none is close.

    >>> did_you_mean("sise", ["key", "size"])
    ' Did you mean "size"?'
    """
    folded = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)
    return f' Did you mean "{folded[close[0]]}"?' if close else ""
