"""Phone numbers as people write them, parsed with `phonenumbers` (Google's libphonenumber metadata).

13812345678, 138-1234-5678, +86 138 1234 5678, 8613812345678, 0086…, and landlines with their area code
(0816-2345678, (0816)2345678) all become E.164 with their kind: `mobile` numbers get SMS, `fixed_line`
numbers never do (voice calls may use them). Local numbers belong to the default region
(WARNENGINE_PHONE_REGION, CN).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from warnengine.model.grid import PhoneKind

_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_KINDS: dict[int, PhoneKind] = {
    PhoneNumberType.MOBILE: "mobile",
    # NANP and a few others cannot tell; such numbers usually take SMS
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
}
_CN_BARE = re.compile(r"^86(1\d{10})$")  # 86 and a mainland mobile, the plus sign lost


def parse_phone(text: str, region: str = "CN") -> tuple[str, PhoneKind] | str:
    """(E.164, kind) of `text`, or why it is not a number to call (Chinese and English)."""
    if _SCIENTIFIC.match(text):
        return (
            "号码被写成了科学计数法，位数已丢失：请把该列设为文本后重新输入 / "
            "the number is in scientific notation and its digits are lost: format the column as text"
        )
    if re.fullmatch(r"\d+\.\d+", text):
        return "号码是小数 / the number has a decimal part: not a phone number"
    digits = re.sub(r"[\s\-().]", "", text)
    if region == "CN" and (m := _CN_BARE.match(digits)):
        digits = "+86" + m[1]
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return "不是电话号码 / not a phone number"
    if not phonenumbers.is_valid_number(number):
        return "号码无效（位数或号段不对）/ not a valid number (wrong length or prefix)"
    kind = _KINDS.get(phonenumbers.number_type(number))
    if kind is None:
        return "不是手机或固定电话号码 / neither a mobile nor a landline number"
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), kind
