from __future__ import annotations

import pytest

from warnengine.errors import BadInput
from warnengine.normalise import FeedError
from warnengine.pipeline.guard import guarded

Letters = list[tuple[str, str, str]]


def _sink(letters: Letters, fail_first: int = 0):  # type: ignore[no-untyped-def]
    state = {"fails": fail_first}

    async def dead_letter(
        stage: str, reason: str, detail: str, payload: bytes, source: str | None, key: str | None
    ) -> None:
        if state["fails"]:
            state["fails"] -= 1
            raise ConnectionError("database down")
        letters.append((stage, reason, detail))

    return dead_letter


@pytest.mark.parametrize("exc", [FeedError("bad_json", "not json"), BadInput("no_area", "none")])
async def test_bad_input_dead_lettered_once_without_retry(exc: Exception) -> None:
    letters: Letters = []
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        raise exc

    assert await guarded("normalise", work, b"x", None, "meteo", _sink(letters)) is False
    assert calls == 1
    assert letters == [("normalise", exc.reason, exc.detail)]  # type: ignore[attr-defined]


async def test_transient_error_retried_then_succeeds() -> None:
    letters: Letters = []
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("blip")

    assert await guarded("dispatch", work, b"x", None, None, _sink(letters)) is True
    assert calls == 3 and letters == []


async def test_persistent_error_dead_lettered_even_if_database_was_down() -> None:
    letters: Letters = []

    async def work() -> None:
        raise RuntimeError("boom")

    ok = await guarded("resolve", work, b"x", "k", None, _sink(letters, fail_first=2), attempts=2)
    assert ok is False
    assert letters[0][:2] == ("resolve", "internal_error") and "boom" in letters[0][2]
