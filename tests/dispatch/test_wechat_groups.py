"""Village WeChat groups (issue 18): robot keys from wechat_groups.csv, one post per covered village's and
group's robot through the WeCom robot adapter (real HTTP, the local fake), never a household reached, the
key never stored on a delivery nor logged; and WeCom app cards to staff whose 收到 button acknowledges."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from channels.base import Outgoing
from channels.config import PoolConfig, ProviderConfig, RetryConfig
from channels.wechat_webhook import _events, _xml
from tests.fakes.wechat import AGENT_ID, CORP_SECRET, CORPID, FakeWeChat
from tests.fakes.wechat_callbacks import wecom_card_click_xml
from warnengine.acks.people import apply_channel_events
from warnengine.db import tables as t
from warnengine.db import tables_addresses as ta
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.directory.importer import import_folder
from warnengine.directory.parse import ReadOptions
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.sender import Senders, build_pool
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Area, Channel, Hazard, HazardWarning, MsgType, Role, Severity, Status
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory

KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"  # the village's robot
GROUP_KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5bbb"  # its first group's robot


def _county_with_groups(src: Path, dst: Path, county: County) -> tuple[str, str, str]:
    shutil.copytree(src, dst)
    village = next(c.code for c in county.cells if c.level.value == "village")
    groups = sorted(c.code for c in county.cells if c.parent == village)
    other = next(c.code for c in county.cells if c.level.value == "village" and c.code != village)
    (dst / "wechat_groups.csv").write_text(
        "村组编码,群机器人,群名称\n"
        f"{village},{KEY},一村群\n"
        f"{groups[0]},https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={GROUP_KEY},一组群\n"
        f"{other},not a key!,二村群\n",  # refused: the row named, the value never
        encoding="utf-8",
    )
    return village, groups[0], other


async def test_village_groups_get_one_post_each_and_never_reach_a_household(
    store: Store, small_county: County, small_county_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "county"
    village, group, _other = _county_with_groups(small_county_dir, folder, small_county)
    bad = await import_folder(store, folder, ReadOptions())
    assert not bad.imported
    assert [(p.file, p.column) for p in bad.problems] == [("wechat_groups.csv", "robot_key")]
    assert "not a key" not in str(bad.problems)
    done = await import_folder(store, folder, ReadOptions(), skip_bad_rows=True)
    assert done.imported and done.counts["wechat_groups"] == 2
    async with store.engine.connect() as conn:
        stored = {
            r[0]: r[1]
            for r in await conn.execute(select(ta.wechat_groups.c.cell_code, ta.wechat_groups.c.robot_key))
        }
        audit = " ".join(r.detail for r in await conn.execute(select(t.audit_log)))
    assert stored == {village: KEY, group: GROUP_KEY} and KEY not in audit and GROUP_KEY not in audit
    directory = await Directory.load(store)
    assert directory.robot_keys == stored

    w = _warning("w-groups", village)
    await store.save_warning(w)
    rule = Rule(
        name="t",
        hazards=("any",),
        severities=(Severity.RED,),
        residents=Residents.ALL,
        staff_roles=(Role.GRID_HEAD, Role.GROUP_LEADER),
        channels=(Channel.WECHAT_GROUP, Channel.WECOM),
    )
    assert await plan_deliveries(w, directory, DisseminationPolicy(rules=(rule,)), store, 3600) == [village]
    async with store.engine.connect() as conn:
        found = await conn.execute(select(t.deliveries).where(t.deliveries.c.warning_id == w.warning_id))
        rows = [r for r in found if r.channel != "loudspeaker"]
    posts = sorted(r.recipient for r in rows if r.channel == "wechat_group")
    assert posts == sorted([village, group])  # the cell, never the key
    assert all(r.person_id is None and r.household_id is None for r in rows if r.channel == "wechat_group")
    cards = [r for r in rows if r.channel == "wecom"]
    staff = {c.person_id: c for cs in directory.staff.values() for c in cs}
    assert cards and all(staff[r.person_id].role is not Role.RESIDENT for r in cards)
    assert not any(KEY in str(tuple(r)) or GROUP_KEY in str(tuple(r)) for r in rows)

    userids = {r.recipient for r in cards}
    policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=0, max_attempts=3)
    async with FakeWeChat(clock=store.clock, robots={KEY, GROUP_KEY}, staff=userids) as fake:
        fast = RetryConfig(attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0.0)
        robot = ProviderConfig(
            "wecom-robot", "wecom-robot", {"api_base": fake.base_url, "clock": store.clock}
        )
        app = ProviderConfig(
            "wecom-app",
            "wecom-app",
            {"corpid": CORPID, "corpsecret": CORP_SECRET, "agentid": AGENT_ID, "api_base": fake.base_url},
        )
        senders = Senders(
            {
                Channel.WECHAT_GROUP: build_pool(
                    PoolConfig(Channel.WECHAT_GROUP, [robot], fast), clock=store.clock
                ),
                Channel.WECOM: build_pool(PoolConfig(Channel.WECOM, [app], fast), clock=store.clock),
            }
        )
        channels = (Channel.WECHAT_GROUP, Channel.WECOM)
        with structlog.testing.capture_logs() as logs:
            try:
                result = await dispatch_people([(w, village)], store, senders, policy, channels, directory)
            finally:
                await senders.stop()
        assert fake.robot_count(KEY) == 1 and fake.robot_count(GROUP_KEY) == 1
        task_ids = list(fake.task_ids)
    assert result.sent == len(rows) and KEY not in str(logs) and GROUP_KEY not in str(logs)
    async with store.engine.connect() as conn:
        states = {r.delivery_id: r.state for r in await conn.execute(select(t.deliveries))}
        homes = {r.state for r in await conn.execute(select(t.warning_households))}
    assert {states[r.delivery_id] for r in rows} == {"sent"}
    assert homes == {"targeted"}  # a post to a group is evidence of sending, never of reach

    # A staff member presses 收到 on the card: their wecom delivery is acknowledged, nothing else.
    card = cards[0]
    xml = wecom_card_click_xml(card.recipient, "ack", task_ids[0], int(store.clock.now()))
    events = _events("wecom-app", _xml(xml), store.clock)
    counts = await apply_channel_events(events, store, directory)
    assert counts["acknowledged"] >= 1
    async with store.engine.connect() as conn:
        after = {r.delivery_id: r.state for r in await conn.execute(select(t.deliveries))}
    assert after[card.delivery_id] == "acknowledged"
    assert all(after[r.delivery_id] == "sent" for r in rows if r.channel == "wechat_group")


async def test_a_group_whose_robot_left_the_directory_fails_without_a_request(
    store: Store, small_county: County
) -> None:
    """The cell of a planned post has no key any more (the directory changed): failed with the reason,
    no provider called."""
    calls: list[Outgoing] = []

    async def send(channel: Channel, batch: list[Outgoing]) -> list[object]:
        calls.extend(batch)
        return []

    await store.import_directory(small_county.cells, small_county.households, small_county.people, [])
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    directory = await Directory.load(store)
    directory.robot_keys = {village: KEY}
    w = _warning("w-gone", village)
    await store.save_warning(w)
    rule = Rule(name="t", hazards=("any",), severities=(Severity.RED,), channels=(Channel.WECHAT_GROUP,))
    await plan_deliveries(w, directory, DisseminationPolicy(rules=(rule,)), store, 3600)
    directory.robot_keys = {}
    policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=0, max_attempts=3)
    r = await dispatch_people([(w, village)], store, send, policy, (Channel.WECHAT_GROUP,), directory)  # type: ignore[arg-type]
    assert r.failed == 1 and calls == []
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(t.deliveries).where(t.deliveries.c.channel == "wechat_group"))).one()
    assert row.state == "failed" and "robot" in (row.reason or "")


def test_a_rule_may_name_wechat_group_and_wecom_but_not_in_switch_to() -> None:
    Rule(
        name="ok",
        hazards=("any",),
        severities=(Severity.RED,),
        channels=(Channel.WECHAT_GROUP, Channel.WECOM),
    )
    with pytest.raises(ValueError, match="switch_to"):
        Rule.model_validate(
            {
                "name": "x",
                "hazards": ["any"],
                "severities": ["red"],
                "ladder": [{"after_min": 5, "action": "resend", "switch_to": ["wechat_group"]}],
            }
        )


def _warning(wid: str, village: str) -> HazardWarning:
    return HazardWarning(
        warning_id=wid,
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        areas=[Area(codes=[village])],
    )


logging.getLogger("aiohttp").setLevel(logging.WARNING)
