"""SQL fingerprints: a statement with its literals stripped, so repeats can be counted."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"(?=\s*(?:,|\)|$))")
_NUMBERS = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", re.I)
_PARAMS = re.compile(r"\$\d+|%\(\w+\)s|%s|:\w+|\?")
_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_VALUES = re.compile(r"(values\s*\([^()]*\))(?:\s*,\s*\([^()]*\))+", re.I)
_SPACE = re.compile(r"\s+")

MAX_SQL = 4000


@lru_cache(maxsize=4096)
def normalise_sql(sql: str) -> str:
    """``sql`` with literals and bind parameters replaced by ``?`` and whitespace squeezed."""
    text = _COMMENTS.sub(" ", sql[:MAX_SQL])
    text = _STRINGS.sub("?", text)
    text = _NUMBERS.sub("?", text)
    text = _PARAMS.sub("?", text)
    text = _LISTS.sub("(...)", text)
    text = _VALUES.sub(r"\1, ...", text)
    return _SPACE.sub(" ", text).strip().rstrip(";").strip()


def fingerprint(category: str, label: str) -> str:
    """A short stable id for a (category, label) pair."""
    digest = hashlib.blake2b(f"{category}\0{label}".encode(), digest_size=8).hexdigest()
    return f"{category}:{digest}"
