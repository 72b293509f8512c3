"""Release and cancel (签发 → 发布): the only ways a dispatcher's warning reaches anyone.

A release puts one generic-JSON feed message on the manual topic; nothing else reaches a recipient.
Claimed first (releasing), published, then recorded: a second press finds it taken and gets a conflict,
and a message the bus did not confirm puts the warning back as it was.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from warnengine.api import audit
from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import Compose, feed_message
from warnengine.api.errors import ApiError, conflict
from warnengine.api.routing import body, user
from warnengine.api.warning_models import EDITABLE, Reason, Step
from warnengine.api.warning_state import load_draft, move, now_utc, respond
from warnengine.model import Hazard, MsgType, Severity
from warnengine.obs import log as obslog
from warnengine.obs import metrics
from warnengine.wire import topics

log = obslog.get("warnengine.api.warnings")


async def _publish(c: ApiContext, row: dict[str, Any], msg_type: MsgType) -> tuple[list[str], int]:
    """Put the next message of the chain on the manual feed topic. Returns the references and version."""
    refs: list[str] = json.loads(row["released_refs"])
    # The first message's identifier is the chain key; later ones are key#n and reference all before
    # them, so the normaliser files them under the same chain at version 1 + len(references).
    identifier = row["identifier"] if not refs else f"{row['identifier']}#{len(refs) + 1}"
    payload, ref = feed_message(
        Compose.model_validate_json(row["content"]),
        identifier=identifier,
        msg_type=msg_type,
        references=refs,
        now=now_utc(c),
    )
    try:
        # Keyed by chain, like `warnengine broadcast`: an Update or Cancel stays in order behind the Alert.
        await c.publisher.publish(topics.feed_topic(topics.MANUAL), row["warning_id"].encode(), payload)
    except Exception as e:
        log.warning("release_not_confirmed", warning_id=row["warning_id"], error=repr(e))
        raise ApiError(
            503, "broker_unavailable", f"the message bus did not confirm the release: {e!r}"
        ) from e
    return [*refs, ref], len(refs) + 1


async def release_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, Step)
    row = await load_draft(c, request.match_info["warning_id"])
    u = user(request)
    rule = None
    if row["state"] == "submitted":
        rule = c.policy.fast_path(Hazard(row["hazard"]), Severity(row["severity"]), u.role.value)
        if rule is None:
            raise conflict(
                "not_approved",
                "a second person must approve this warning first "
                f"(no fast path for {row['hazard']}/{row['severity']} and role {u.role.value})",
            )
    allowed = ("submitted",) if rule else ("approved",)
    # Claim it first (releasing), publish, then record: a second press finds it taken and gets a conflict.
    await move(
        request, row, revision=b.revision, allowed=allowed, action="release", values={"state": "releasing"}
    )
    msg_type = MsgType.UPDATE if row["released_version"] else MsgType.ALERT
    try:
        refs, version = await _publish(c, row, msg_type)
    except ApiError:
        await c.store.move_draft(
            row["warning_id"], from_states=("releasing",), revision=b.revision, values={"state": row["state"]}
        )
        await audit.record(request, "warning.release.failed", row["warning_id"], revision=b.revision)
        raise
    await c.store.move_draft(
        row["warning_id"],
        from_states=("releasing",),
        revision=b.revision,
        values={
            "state": "released",
            "released_refs": json.dumps(refs),
            "released_version": version,
            "released_by": u.username,
            "released_at": c.store.clock.now(),
            "fast_path": rule is not None,
        },
        approval={"actor": u.username, "decision": "fast_path", "reason": rule.describe()} if rule else None,
    )
    metrics.API_WARNING_ACTIONS.labels("fast_path" if rule else "release").inc()
    await audit.record(
        request,
        "warning.release.fast_path" if rule else "warning.release",
        row["warning_id"],
        revision=b.revision,
        version=version,
        msg_type=msg_type.value,
        drill=row["status"] == "Exercise",
        rule=rule.describe() if rule else None,
        policy=c.policy.source if rule else None,
    )
    return await respond(request, row["warning_id"])


async def cancel_warning(request: web.Request) -> web.Response:
    """Stop a warning. A live one gets a Cancel message at once: stopping is never held up by approval."""
    c = ctx(request)
    b = body(request, Reason)
    row = await load_draft(c, request.match_info["warning_id"])
    allowed = EDITABLE
    await move(
        request, row, revision=b.revision, allowed=allowed, action="cancel", values={"state": "releasing"}
    )
    values: dict[str, Any] = {"state": "cancelled", "reason": b.reason}
    version = None
    if row["released_version"]:
        try:
            refs, version = await _publish(c, row, MsgType.CANCEL)
        except ApiError:
            await c.store.move_draft(
                row["warning_id"],
                from_states=("releasing",),
                revision=b.revision,
                values={"state": row["state"]},
            )
            raise
        values.update(released_refs=json.dumps(refs), released_version=version)
    await c.store.move_draft(
        row["warning_id"], from_states=("releasing",), revision=b.revision, values=values
    )
    metrics.API_WARNING_ACTIONS.labels("cancel").inc()
    await audit.record(request, "warning.cancel", row["warning_id"], reason=b.reason, version=version)
    return await respond(request, row["warning_id"])
