"""What WeChat checks in an Official Account template / subscription message's `data` (errcode 47003).

Documented per key type (the key's name without its number: `thing3` is a `thing`), for subscription
notices in https://developers.weixin.qq.com/doc/offiaccount/Subscription_Messages/api.html (send: 参数值
内容限制) and for the category templates that replaced free-form template messages:
- thing: at most 20 characters (汉字、数字、字母或符号);
- phrase: at most 5 characters, Chinese characters only ("5个以内纯汉字");
- character_string: at most 32 digits, letters or symbols (no Chinese);
- time / date: a 24-hour time and/or a date ("15:01", "2019年10月1日 15:01"; a range joined by "~").

Undocumented, made strict here: a newline, tab or other control character in any value is refused (WeChat
renders one line per field, and community reports show 47003 for them); a value of an unlisted type is
limited to 20 characters.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_ASCII_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_TIME = r"(\d{1,2}:\d{2}(:\d{2})?)"
_DATE = r"(\d{4}(年|-|/)\d{1,2}(月|-|/)\d{1,2}日?)"
_WHEN = re.compile(rf"({_DATE}( {_TIME})?|{_TIME})(\s?~\s?({_DATE}( {_TIME})?|{_TIME}))?")


def field_invalid(key: str, value: object) -> bool:
    """True when WeChat would answer 47003 "argument invalid! data.<key>.value invalid"."""
    if not isinstance(value, str) or not value:
        return True
    if any(unicodedata.category(c) == "Cc" for c in value):
        return True
    kind = key.rstrip("0123456789")
    if kind == "thing":
        return len(value) > 20
    if kind == "phrase":
        return len(value) > 5 or _CJK.fullmatch(value) is None
    if kind == "character_string":
        return len(value) > 32 or _ASCII_PRINTABLE.fullmatch(value) is None
    if kind in ("time", "date"):
        return _WHEN.fullmatch(value) is None
    return len(value) > 20
