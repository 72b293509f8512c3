"""The loudspeaker MQTT contract (docs/design.md, "The loudspeaker MQTT contract"): topics, and how a
terminal's ack is read. The engine (channels/loudspeaker.py, warnengine/devices) and the terminals
(warnengine/speaker) both use this module, so the two sides cannot drift apart.

Topics: warn/v1/<county>/<township>/<village>/<device>/cmd (commands, QoS 1, MQTT 5 expiry),
.../ack (terminal acks), .../status (retained health). Codes are 12-digit administrative codes.

Group topics carry one signed command for every terminal under a cell: warn/v1/<county>/group/cmd,
warn/v1/<county>/<township>/group/cmd and warn/v1/<county>/<township>/<village>/group/cmd. A terminal
subscribes to its own topic and its three cells' group topics, and still acks on its own ack topic.
"group" is therefore not a device id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable

from pydantic import ValidationError

from warnengine.model import SpeakerAck
from warnengine.transport.mqtt import Message

PREFIX = "warn/v1"
GROUP = "group"  # the device segment of a village's group topic: never a device id
LINK_TEST_PREFIX = "lt-"  # the command id of a silent link test (warnengine/devices/link_tests.py)


def is_link_test(cmd_id: str) -> bool:
    """Whether an ack answers a link test rather than a delivery (delivery ids never start so)."""
    return cmd_id.startswith(LINK_TEST_PREFIX)


def cells_of(village_code: str) -> tuple[str, str, str]:
    """(county, township, village) codes of a village: the cells whose group topics reach its terminals."""
    return village_code[:6] + "000000", village_code[:9] + "000", village_code


def cell_level(cell: str) -> str:
    """ "county", "township" or "village" for a 12-digit code, by its trailing zeros."""
    if cell[6:] == "000000":
        return "county"
    return "township" if cell[9:] == "000" else "village"


def group_topic(cell: str) -> str:
    """The group command topic of a county, township or village code."""
    county, township, village = cells_of(cell)
    level = cell_level(cell)
    if level == "county":
        return f"{PREFIX}/{county}/{GROUP}/cmd"
    if level == "township":
        return f"{PREFIX}/{county}/{township}/{GROUP}/cmd"
    return f"{PREFIX}/{county}/{township}/{village}/{GROUP}/cmd"


def group_topics(village_code: str) -> list[str]:
    """The three group topics a terminal of this village subscribes to (county, township, village)."""
    return [group_topic(c) for c in cells_of(village_code)]


def parse_group_topic(topic: str) -> str | None:
    """The cell code of a group topic, or None when `topic` is not exactly one."""
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[-2:] != [GROUP, "cmd"]:
        return None
    cell = parts[-3]
    if len(cell) != 12 or not cell.isdigit() or group_topic(cell) != topic:
        return None
    return cell


def covers(cell: str, village_code: str) -> bool:
    """Whether a group command for `cell` is for the terminals of `village_code`."""
    return cell in cells_of(village_code)


def group_acl(devices: Iterable[tuple[str, str]]) -> str:
    """Mosquitto ACL stanzas letting each terminal (user name = device id) read its cells' group topics
    and no other cell's: `%u` patterns cannot say which village a user is in, so these are generated from
    the directory (`warnengine grid acl`) and appended to deploy/mosquitto/warnengine.acl."""
    out = []
    for device, village in sorted(devices):
        out.append(f"user {device}\n" + "".join(f"topic read {t}\n" for t in group_topics(village)))
    return "\n".join(out)


def device_topic(village_code: str, device_id: str, leaf: str) -> str:
    county = village_code[:6] + "000000"
    township = village_code[:9] + "000"
    return f"{PREFIX}/{county}/{township}/{village_code}/{device_id}/{leaf}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """(village_code, device_id, leaf) of a contract topic, or None — also when the county and township
    levels are not the ones the village code implies, or the device id is empty: one terminal, one topic."""
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != PREFIX or not parts[5] or parts[5] == GROUP:
        return None
    if device_topic(parts[4], parts[5], parts[6]) != topic:
        return None
    return parts[4], parts[5], parts[6]


class BadAck(Exception):
    def __init__(self, topic: str, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} on {topic}")
        self.topic, self.reason, self.payload = topic, reason, payload


AckHandler = Callable[[list[SpeakerAck]], Awaitable[None]]
BadAckHandler = Callable[[BadAck], Awaitable[None]]


def parse_ack(m: Message) -> SpeakerAck:
    where = parse_topic(m.topic)
    if where is None:
        raise BadAck(m.topic, "bad_topic", m.payload)
    try:
        data = json.loads(m.payload)
    except ValueError as e:
        raise BadAck(m.topic, "ack_not_json", m.payload) from e
    if not isinstance(data, dict):
        raise BadAck(m.topic, "ack_not_object", m.payload)
    try:
        return SpeakerAck.model_validate({**data, "device_id": where[1]})
    except ValidationError as e:
        raise BadAck(m.topic, "ack_invalid", m.payload) from e
