"""Which replies count a household ("收到，全家4人") and which stay a person's own or go to the inbox."""

from __future__ import annotations

import pytest

from warnengine.model.household_reply import WHOLE, household_count


@pytest.mark.parametrize(
    ("text", "persons"),
    [
        ("收到，全家4人", 4),
        ("收到 全家4人。", 4),
        ("1 3人", 3),
        ("收到，我家3口人", 3),
        ("全家5人收到", 5),
        ("收到，家里3人都知道了", 3),
        ("收到,共三人", 3),
        ("收到 十二人", 12),
        ("收到两人", 2),
        ("ＯＫ　全家", WHOLE),  # full-width, as phones send it
        ("全家", WHOLE),
        ("全家收到", WHOLE),
        ("全家都收到了！", WHOLE),
        ("收到，全家", WHOLE),
        ("全家平安", WHOLE),
    ],
)
def test_a_household_answer_counts(text: str, persons: int) -> None:
    assert household_count(text) == persons


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "收到",  # the sender's own answer
        "1",
        "3人",  # a bare number: nobody knows what it counts
        "我家",  # which members?
        "收到 我家",
        "收到0人",
        "收到，830名学生留在室内",  # an organisation's note (acks/orgs.py)
        "到 H123 3",  # a shelter keeper's check-in (acks/checkins.py)
        "全家被困，请求救援",  # a call for help: for a person to read (the inbox)
        "收到 100人",
    ],
)
def test_anything_else_counts_nobody(text: str | None) -> None:
    assert household_count(text) is None
