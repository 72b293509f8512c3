"""What every SMS adapter shares: E.164 validation, the text of a delivery, and segment counting.

Segments follow 3GPP TS 23.038 / 23.040: a message that fits the GSM 03.38 alphabet (basic table, with the
extension table's characters costing two septets) is 160 septets in one segment or 153 per segment when
concatenated (the UDH takes 7); anything else, Chinese included, is UCS-2: 70 UTF-16 code units alone or 67
per segment. Providers bill per segment, so the count is exported as a metric.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

E164 = re.compile(r"\+[1-9]\d{1,14}")

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def is_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


def sms_text(body: dict[str, Any]) -> str | None:
    """The message text of a composed SMS delivery (`{"text": ...}`), or None when there is none."""
    text = body.get("text")
    return text if isinstance(text, str) and text.strip() else None


def encoding(text: str) -> str:
    """'GSM-7' when every character is in the GSM 03.38 alphabet, else 'UCS-2'."""
    return "GSM-7" if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text) else "UCS-2"


@functools.lru_cache(maxsize=256)  # one warning's text goes to thousands of numbers
def segments(text: str) -> int:
    """How many SMS segments the text is sent (and billed) as."""
    if encoding(text) == "GSM-7":
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2  # astral characters (emoji) take two code units
    return 1 if units <= 70 else math.ceil(units / 67)
