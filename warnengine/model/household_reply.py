"""A resident answering for the whole household (到人, issue 17): "收到，全家4人", "全家都收到了", "1 3人".

A plain "收到" accounts for the person who sent it; a household's other members (children, the elderly
without a phone) are accounted for only by a visitor — unless the one who answers says how many of the
household heard the warning. The reply must both acknowledge (an ack word, or 全家/我家/家里) and count
(N人 / N口人, or 全家 for every member); a bare "3人" is too ambiguous to count anyone and goes to the
inbox like any other text. The count is capped at the household's members where it is applied
(db/store/persons.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

WHOLE: Final = 0  # "全家": every member of the household

_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ACK = r"(?:已收到|收到了|收到|知道了|知道|明白|确认|好的|ok|1)"
_HOME = r"(?:全家|我家|家里|一家)"
_COUNT = r"(?:共|都)?(?P<n>\d{1,2}|十?[一二两三四五六七八九]|十)\s*口?人"
_TAIL = r"(?:都)?(?:已经|已)?(?:收到了|收到|知道了|知道|明白|安全|平安)?"
_FORMS = (
    re.compile(rf"^{_ACK}[\s,，、]*(?P<home>{_HOME})?[\s,，、]*(?:{_COUNT})?{_TAIL}$"),
    re.compile(rf"^(?P<home>{_HOME})[\s,，、]*(?:{_COUNT})?[\s,，、]*{_TAIL}$"),
)
_PUNCT = " \t\r\n。！!.,，~～、;；:："


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    tens = 10 if text.startswith("十") else 0
    return tens + _NUMERALS[text[-1]]


def household_count(text: str | None) -> int | None:
    """Persons of the sender's household the reply accounts for: N, `WHOLE` for 全家, None when the text
    is not a household answer (a plain "收到" is the sender's own; anything else is for a person to read)."""
    if not text:
        return None
    plain = unicodedata.normalize("NFKC", text).strip(_PUNCT).casefold()
    for form in _FORMS:
        m = form.match(plain)
        if m is None:
            continue
        n = m.group("n")
        if n is not None:
            count = _number(n)
            return count if count > 0 else None
        if m.group("home") in ("全家", "一家"):  # "我家"/"家里" alone say nothing about how many
            return WHOLE
    return None
