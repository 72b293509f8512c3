"""Provider canaries (issue 18): per SMS, voice, WeChat and push provider, the cheapest harmless call
(`channels/check.py`, the same as `warnengine channels check`: an account fetch, a token, a template
lookup, a `validate_only` push) on the leader's link-test schedule. A failing canary makes the provider's
link (`provider:<name>`) stale with the provider's own code; a provider with no cheap call known is logged
as not checked, never reported as passing."""

from __future__ import annotations

from pathlib import Path

import structlog

from channels.check import check_all
from warnengine.devices.link_tests import LinkStore, record

log = structlog.get_logger("warnengine.devices")


def provider_link(name: str) -> str:
    return f"provider:{name}"


async def run_provider_canaries(store: LinkStore, channels_file: Path, now: float) -> dict[str, str | None]:
    """One round over every configured provider: link → None (passed) or `<finding>: <detail>`."""
    results: dict[str, str | None] = {}
    for f in await check_all(channels_file):
        if f.status == "unchecked":
            log.info("canary_unavailable", provider=f.provider, adapter=f.adapter)
            continue
        results[provider_link(f.provider)] = None if f.status == "ok" else f"{f.status}: {f.detail}"[:300]
    await record(store, results, "provider", now)
    return results
