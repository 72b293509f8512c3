"""The stale-link list (issue 18): GET /api/v1/links?stale=true names the terminals and providers whose last
scheduled test failed or that have not passed for `link_stale_after_s`, with the reason; staff only."""

from __future__ import annotations

from tests.api.conftest import Api
from warnengine.devices.canaries import provider_link
from warnengine.devices.link_tests import terminal_link


async def test_stale_links_are_listed_with_the_reason(api: Api) -> None:
    clock = api.store.clock
    t0 = clock.now()
    old, fresh, refused, tencent = (
        terminal_link("spk-old"),
        terminal_link("spk-fresh"),
        terminal_link("spk-foreign"),
        provider_link("tencent"),
    )
    await api.store.record_link_tests([(old, "terminal", None)], t0 - 40 * 3600)  # passed, too long ago
    await api.store.record_link_tests([(tencent, "provider", None)], t0 - 3600)
    await api.store.record_link_tests(
        [
            (fresh, "terminal", None),
            (refused, "terminal", "rejected: unknown_key"),
            (tencent, "provider", "credential: tencent AuthFailure.SecretIdNotFound"),
        ],
        t0,
    )
    status, body = await api.call("GET", "/api/v1/links?stale=true", "grid")
    assert status == 200 and body["stale_after_s"] == 36 * 3600
    stale = {x["link"]: x for x in body["links"]}
    assert set(stale) == {old, refused, tencent}
    assert stale[tencent]["last_error"] == "credential: tencent AuthFailure.SecretIdNotFound"
    assert stale[tencent]["last_success"] == t0 - 3600 and stale[tencent]["failures"] == 1
    assert stale[refused]["last_success"] is None and stale[old]["last_error"] is None
    status, body = await api.call("GET", "/api/v1/links?stale=false&kind=terminal", "grid")
    assert [x["link"] for x in body["links"]] == [fresh]
    status, _ = await api.call("GET", "/api/v1/links")
    assert status == 401
    status, _ = await api.call("GET", "/api/v1/links?kind=radio", "grid")
    assert status == 400
