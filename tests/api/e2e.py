"""The real stack for end-to-end API tests: embedded broker, MQTT, SQLite, a worker process, the
simulated terminal farm, and the API served on a free port with the real Kafka publisher."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api.conftest import ROLES
from tests.integration.conftest import Harness, running_stack
from warnengine.api.app import ApiServer, start_api
from warnengine.api.auth import digest


@dataclass
class Live:
    harness: Harness
    api: ApiServer
    tokens: dict[str, str]


ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def live_stack(
    tmp_path: Path, county_dir: Path, password_hash: str, **over: Any
) -> AsyncIterator[Live]:
    """`over`: stack settings (simulated providers, an accelerated clock...)."""
    root = ROOT
    async with running_stack(tmp_path / "var", county_dir, **over) as h:
        await h.start_farm()
        await h.start_worker()
        tokens = {}
        for name, role in ROLES.items():
            await h.store.add_user(name, password_hash, role, name.upper())
            tokens[name] = f"we_e2e_{name}"
            await h.store.add_token(digest(tokens[name]), name, "e2e", None)
        settings = h.settings.model_copy(
            update={
                "api_port": 0,
                "api_policy_file": root / "config" / "approval.yaml",
                "api_templates_file": root / "config" / "warning_templates.yaml",
            }
        )
        api = await start_api(settings)
        try:
            yield Live(h, api, tokens)
        finally:
            await api.stop()
