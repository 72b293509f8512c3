"""Process roles: a `dispatch` worker and an `acks` worker (each its own consumer group) carry a warning
from the feed to every terminal's `played`, the earthquake fast path included; `up`'s role list is
checked before anything starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import running_stack
from tests.integration.test_eew import eew
from tests.integration.test_pipeline import json_warning
from warnengine.cli.main import worker_roles
from warnengine.directory import County
from warnengine.model.warning import chain_id


def test_up_roles() -> None:
    assert worker_roles(2, None) == ["all", "all"]
    assert worker_roles(1, "dispatch,acks") == ["dispatch", "acks"]
    assert worker_roles(1, "dispatch, dispatch, acks") == ["dispatch", "dispatch", "acks"]
    for bad in ("dispatch", "all,acks", "ack", ","):
        with pytest.raises(SystemExit):
            worker_roles(1, bad)


async def test_a_dispatch_worker_and_an_acks_worker_deliver_together(
    tmp_path: Path, small_county: County, small_county_dir: Path
) -> None:
    devices = {d.device_id for d in small_county.devices}
    async with running_stack(tmp_path / "var", small_county_dir) as h:
        await h.start_farm()
        h.stack.start_worker(0, "dispatch")
        h.stack.start_worker(1, "acks")
        await h.stack.wait_ready(0)
        await h.stack.wait_ready(1)
        township = next(c.code for c in small_county.cells if c.level.value == "township")
        identifier = f"R-{time.time_ns()}"
        await h.send("flood", json_warning(identifier, [township]))
        event = f"EEW-R-{time.time_ns()}"
        await h.send("earthquake", eew(event, small_county))
        await h.wait_all_played(chain_id("eew", event), devices)
        flood = {r["recipient"] for r in await h.deliveries(chain_id("flood.example.cn", identifier))}
        await h.wait_all_played(chain_id("flood.example.cn", identifier), flood)
        dispatch_log, acks_log = h.stack.worker_log(0).read_text(), h.stack.worker_log(1).read_text()
        assert '"event": "groups_dispatched"' in dispatch_log and "groups_dispatched" not in acks_log
        assert await h.store.dead_letters() == []
