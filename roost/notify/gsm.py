"""Fitting text into one SMS segment: GSM-7 characters, at most 160 of them."""

from __future__ import annotations

SEGMENT = 160
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = "^{}\\[~]|€"  # each costs two septets
_REPLACE = {"…": "...", "—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "→": "->"}


def to_gsm7(text: str) -> str:
    """Replace characters outside the GSM-7 alphabet so the text stays one encoding."""
    out = []
    for ch in text:
        ch = _REPLACE.get(ch, ch)
        out.append(ch if all(c in _BASIC or c in _EXTENDED for c in ch) else "?")
    return "".join(out)


def septets(text: str) -> int:
    """Length of ``text`` in GSM-7 septets (extended characters count twice)."""
    return sum(2 if ch in _EXTENDED else 1 for ch in text)


def fit(text: str, limit: int = SEGMENT) -> str:
    """``text`` in GSM-7, cut to ``limit`` septets with a trailing ``...`` when too long."""
    text = to_gsm7(" ".join(text.split()))
    if septets(text) <= limit:
        return text
    while septets(text) > limit - 3:
        text = text[:-1]
    return text.rstrip() + "..."
