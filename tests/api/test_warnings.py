"""The two-person workflow, the fast path, drills, updates and cancels — and the feed messages they make."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from warnengine.model import MsgType, Status
from warnengine.normalise import parse_feed
from warnengine.wire import topics
from warnengine.wire.records import decode_app_ack

TOWNSHIP = "530102001000"
MANUAL = topics.feed_topic("manual")


def draft(**over: Any) -> dict[str, Any]:
    return {
        "hazard": "flood",
        "severity": "orange",
        "event": "山洪",
        "headline": "山洪橙色预警",
        "instruction": "沿河群众立即转移",
        "areas": [{"description": "一乡", "codes": [TOWNSHIP]}],
        **over,
    }


async def create(api: Api, who: str = "disp", **over: Any) -> dict[str, Any]:
    status, w = await api.call("POST", "/api/v1/warnings", who, json=draft(**over))
    assert status == 201, w
    return w  # type: ignore[no-any-return]


async def step(api: Api, w: dict[str, Any], action: str, who: str, **extra: Any) -> tuple[int, Any]:
    return await api.call(
        "POST", f"/api/v1/warnings/{w['warning_id']}/{action}", who, json={"revision": w["revision"], **extra}
    )


async def ok(api: Api, w: dict[str, Any], action: str, who: str, **extra: Any) -> dict[str, Any]:
    status, body = await step(api, w, action, who, **extra)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_draft_submit_approve_release_update_cancel(api_both: Api) -> None:
    api = api_both
    w = await create(api)
    assert (w["state"], w["revision"], w["live"], w["drill"]) == ("draft", 1, False, False)
    w = await ok(api, w, "submit", "disp")

    # Self-approval is refused with a reason, whatever the role: an admin who drafted cannot approve either.
    status, body = await step(api, w, "approve", "disp")
    assert status == 403  # a dispatcher may not approve at all
    a = await create(api, "admin")
    a = await ok(api, a, "submit", "admin")
    status, body = await step(api, a, "approve", "admin")
    assert (status, body["error"]["code"]) == (403, "self_approval")
    assert "two-person" in body["error"]["message"]

    # Releasing before approval is a conflict (flood has no fast path); a stale revision too.
    status, body = await step(api, w, "release", "disp")
    assert (status, body["error"]["code"]) == (409, "not_approved")
    status, body = await step(api, {**w, "revision": 7}, "approve", "appr")
    assert (status, body["error"]["code"]) == (409, "stale_revision")

    w = await ok(api, w, "approve", "appr", note="核实无误")
    assert (w["state"], w["approved_by"]) == ("approved", "appr")
    assert api.publisher.sent == []  # approval alone sends nothing
    w = await ok(api, w, "release", "disp")
    assert (w["state"], w["live"], w["released_version"], w["fast_path"]) == ("released", True, 1, False)
    status, body = await step(api, w, "release", "disp")  # a second press
    assert (status, body["error"]["code"]) == (409, "wrong_state")

    [(topic, key, payload)] = api.publisher.sent
    assert (topic, key) == (MANUAL, w["warning_id"].encode())
    alert = parse_feed(payload, "manual")
    assert (alert.warning_id, alert.version, alert.msg_type) == (w["warning_id"], 1, MsgType.ALERT)
    assert (alert.status, alert.areas[0].codes, alert.instruction) == (
        Status.ACTUAL,
        [TOWNSHIP],
        "沿河群众立即转移",
    )

    # An update goes back through approval, then is the chain's version 2.
    status, w = await api.call(
        "PATCH",
        f"/api/v1/warnings/{w['warning_id']}",
        "disp2",
        json={"revision": w["revision"], "severity": "red", "headline": "山洪红色预警"},
    )
    assert (status, w["state"], w["revision"], w["live"]) == (200, "draft", 2, True), w
    w = await ok(api, w, "submit", "disp2")
    status, body = await step(api, w, "approve", "disp2")
    assert status == 403
    w = await ok(api, w, "approve", "appr2")
    w = await ok(api, w, "release", "appr2")
    update = parse_feed(api.publisher.sent[-1][2], "manual")
    assert (update.warning_id, update.version, update.msg_type) == (w["warning_id"], 2, MsgType.UPDATE)
    assert update.severity.value == "red"

    # Cancel: at once, no approval; version 3 of the chain.
    w = await ok(api, w, "cancel", "disp", reason="水位回落")
    assert (w["state"], w["live"]) == ("cancelled", False)
    cancel = parse_feed(api.publisher.sent[-1][2], "manual")
    assert (cancel.warning_id, cancel.version, cancel.msg_type) == (w["warning_id"], 3, MsgType.CANCEL)

    status, full = await api.call("GET", f"/api/v1/warnings/{w['warning_id']}", "grid")
    assert [(a["actor"], a["decision"]) for a in full["approvals"]] == [
        ("appr", "approved"),
        ("appr2", "approved"),
    ]
    log = [
        (e["actor"], e["action"]) for e in reversed(await api.store.audit_entries(subject=w["warning_id"]))
    ]
    assert log == [
        ("disp", "warning.create"),
        ("disp", "warning.submit"),
        ("appr", "warning.approve"),
        ("disp", "warning.release"),
        ("disp2", "warning.update"),
        ("disp2", "warning.submit"),
        ("appr2", "warning.approve"),
        ("appr2", "warning.release"),
        ("disp", "warning.cancel"),
    ]
    refused = await api.store.audit_entries(subject=a["warning_id"])
    assert refused[0]["action"] == "warning.approve.refused" and "self_approval" in refused[0]["detail"]


async def test_reject_then_edit_and_resubmit(api: Api) -> None:
    w = await ok(api, await create(api), "submit", "disp")
    status, body = await step(api, w, "reject", "appr")
    assert (status, body["error"]["field"]) == (400, "reason")
    w = await ok(api, w, "reject", "appr", reason="范围过大")
    assert (w["state"], w["reason"]) == ("rejected", "范围过大")
    status, w = await api.call(
        "PATCH",
        f"/api/v1/warnings/{w['warning_id']}",
        "disp",
        json={"revision": w["revision"], "areas": [{"codes": ["530102001001"]}]},
    )
    assert (status, w["state"], w["content"]["areas"][0]["codes"]) == (200, "draft", ["530102001001"])
    w = await ok(api, w, "submit", "disp")
    assert w["state"] == "submitted"


async def test_earthquake_fast_path_releases_without_a_second_person_and_is_audited(api: Api) -> None:
    w = await create(api, hazard="earthquake", severity="red", event="地震", headline="地震预警")
    w = await ok(api, w, "submit", "disp")
    w = await ok(api, w, "release", "disp")
    assert (w["state"], w["fast_path"], w["approved_by"]) == ("released", True, None)
    assert w["approvals"][0]["decision"] == "fast_path" and "earthquake" in w["approvals"][0]["reason"]
    entry = (await api.store.audit_entries(subject=w["warning_id"]))[0]
    assert entry["action"] == "warning.release.fast_path"
    assert "approval.yaml" in json.loads(entry["detail"])["policy"]
    assert parse_feed(api.publisher.sent[-1][2], "manual").hazard.value == "earthquake"
    # Not from a draft: the fast path skips the second person, not the submission.
    d = await create(api, hazard="earthquake", severity="red", event="地震", headline="地震预警")
    assert (await step(api, d, "release", "disp"))[0] == 409


async def test_a_drill_is_cap_exercise_and_says_so(api: Api) -> None:
    w = await create(api, drill=True)
    assert w["drill"] is True
    w = await ok(api, w, "submit", "disp")
    w = await ok(api, w, "approve", "appr")
    w = await ok(api, w, "release", "disp")
    msg = parse_feed(api.publisher.sent[-1][2], "manual")
    assert msg.status == Status.EXERCISE
    status, body = await api.call(
        "PATCH",
        f"/api/v1/warnings/{w['warning_id']}",
        "disp",
        json={"revision": w["revision"], "drill": False},
    )
    assert (status, body["error"]["code"]) == (400, "drill_fixed")


async def test_broker_down_means_503_and_nothing_changed(api: Api) -> None:
    w = await ok(api, await ok(api, await create(api), "submit", "disp"), "approve", "appr")
    api.publisher.fail = True
    status, body = await step(api, w, "release", "disp")
    assert (status, body["error"]["code"]) == (503, "broker_unavailable")
    status, again = await api.call("GET", f"/api/v1/warnings/{w['warning_id']}", "disp")
    assert (again["state"], again["revision"], again["live"]) == ("approved", w["revision"], False)
    api.publisher.fail = False
    assert (await ok(api, again, "release", "disp"))["state"] == "released"


async def test_drafts_from_a_template_and_from_cap(api: Api) -> None:
    status, t = await api.call("GET", "/api/v1/templates", "grid")
    assert status == 200 and "暴雨红色预警" in [x["name"] for x in t["templates"]]
    status, w = await api.call(
        "POST",
        "/api/v1/warnings",
        "disp",
        json={"template": "暴雨红色预警", "areas": [{"codes": [TOWNSHIP]}]},
    )
    assert status == 201 and (w["hazard"], w["severity"], w["content"]["expires_min"]) == (
        "meteo",
        "red",
        360,
    )
    cap = json.dumps(
        {
            "sender": "x",
            "identifier": "y",
            "sent": "2024-07-01T08:00:00+08:00",
            "hazard": "geohazard",
            "severity": "yellow",
            "event": "滑坡",
            "status": "Exercise",
            "areas": [{"polygon": [[102.7, 25.0], [102.8, 25.0], [102.8, 25.1]]}],
        }
    )
    status, w = await api.call("POST", "/api/v1/warnings", "disp", json={"cap": cap})
    assert status == 201, w
    assert (w["hazard"], w["drill"], len(w["content"]["areas"][0]["polygons"][0])) == ("geohazard", True, 4)


async def test_app_acks_go_to_their_topic(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/acks", "app", json={"delivery_id": "d-1"})
    assert (status, body) == (202, {"accepted": True})
    status, _ = await api.call(
        "POST",
        "/api/v1/acks",
        "app",
        json={"warning_id": "w-0123456789abcdef", "person_id": "p-7", "at": "2024-07-01T08:00:00+08:00"},
    )
    assert status == 202
    (t1, k1, v1), (t2, k2, v2) = api.publisher.sent
    assert (t1, k1, json.loads(v1)["delivery_id"]) == (topics.ACKS_APP, b"d-1", "d-1")
    assert (t2, k2) == (topics.ACKS_APP, b"w-0123456789abcdef")
    assert json.loads(v2)["at"] == 1719792000.0 and json.loads(v2)["person_id"] == "p-7"
    assert decode_app_ack(v2).model_dump(exclude_none=True) == json.loads(
        v2
    )  # the pipeline's consumer takes it as is
    # 全家已知晓: the household count travels with the ack (0: every member).
    status, _ = await api.call("POST", "/api/v1/acks", "app", json={"delivery_id": "d-2", "household": 0})
    assert status == 202 and json.loads(api.publisher.sent[-1][2])["household"] == 0
    for bad in (
        {},
        {"warning_id": "w-0123456789abcdef"},
        {"delivery_id": "d", "person_id": "p"},
        {"delivery_id": "d", "household": -1},
        {"delivery_id": "d", "household": 51},
    ):
        status, body = await api.call("POST", "/api/v1/acks", "app", json=bad)
        assert status == 400, bad
