from __future__ import annotations

import pytest

from warnengine.directory.parse.phones import parse_phone


@pytest.mark.parametrize(
    ("text", "e164", "kind"),
    [
        ("13812345678", "+8613812345678", "mobile"),
        ("138-1234-5678", "+8613812345678", "mobile"),
        ("138 1234 5678", "+8613812345678", "mobile"),
        ("+86 138 1234 5678", "+8613812345678", "mobile"),
        ("8613812345678", "+8613812345678", "mobile"),
        ("008613812345678", "+8613812345678", "mobile"),
        ("0816-2345678", "+868162345678", "fixed_line"),
        ("(0816)2345678", "+868162345678", "fixed_line"),
        ("010-62345678", "+861062345678", "fixed_line"),
    ],
)
def test_common_spellings(text: str, e164: str, kind: str) -> None:
    assert parse_phone(text, "CN") == (e164, kind)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.38123e+10", "scientific notation"),
        ("13812345678.5", "decimal part"),
        ("12345", "not a valid number"),
        ("电话", "not a phone number"),
        ("4001234567", "neither a mobile nor a landline"),
    ],
)
def test_what_is_not_a_number_to_call(text: str, reason: str) -> None:
    out = parse_phone(text, "CN")
    assert isinstance(out, str) and reason in out


def test_the_region_is_a_setting() -> None:
    assert parse_phone("020 7946 0018", "GB") == ("+442079460018", "fixed_line")
    assert parse_phone("020 7946 0018", "CN") == ("+862079460018", "fixed_line")  # Guangzhou
