"""The four-level grid (county / township / village / group) and who and what lives in it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# How a terminal's commands are signed (warnengine/signing/ ALGS): Ed25519, or SM2 with SM3 for
# terminals that follow the national emergency-broadcast standards.
SigAlg = Literal["ed25519", "sm2-sm3"]
# Who carries a terminal's commands: warnengine over MQTT, or the county's emergency-broadcast platform.
Provider = Literal["mqtt", "eb"]
# What a phone number is (warnengine/directory/parse/phones.py): SMS goes to mobiles only.
PhoneKind = Literal["mobile", "fixed_line"]


class Level(StrEnum):
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    GROUP = "group"


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_HEAD = "grid_head"
    DISPATCHER = "dispatcher"
    GRID_MEMBER = "grid_member"
    INFO_OFFICER = "info_officer"
    GROUP_LEADER = "group_leader"
    POINT_LEAD = "point_lead"


class Cell(BaseModel):
    """A grid cell; `geometry` is a GeoJSON Polygon or MultiPolygon (lon, lat)."""

    model_config = ConfigDict(frozen=True)

    code: str
    level: Level
    parent: str | None
    name: str
    geometry: dict[str, Any]


class Household(BaseModel):
    model_config = ConfigDict(frozen=True)

    household_id: str
    cell_code: str
    lon: float
    lat: float
    members: int = Field(ge=0)
    vulnerable: bool = False


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str
    household_id: str | None
    cell_code: str
    name: str
    role: Role
    phone: str | None = None  # E.164
    phone_kind: PhoneKind | None = None  # None: recorded before kinds were (taken as a mobile)
    wechat_openid: str | None = None
    app_token: str | None = None
    drill_opt_in: bool = False  # drills (CAP Exercise) and tests reach only people who opted in
    # A second app-push token (FCM), when app_token is the person's JPush registration id: app push fails
    # over to it when JPush itself fails (issue 18). Stored apart (push_tokens), not in the people table.
    fcm_token: str | None = None
    # A staff member's WeCom (企业微信) userid: app cards whose 收到 acknowledges (policy channel `wecom`).
    wecom_userid: str | None = None


class Device(BaseModel):
    """A loudspeaker terminal (村村响 / 应急广播终端)."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    cell_code: str
    lon: float
    lat: float
    kind: str = "loudspeaker"
    drill_opt_in: bool = True  # a terminal plays drills unless the village asked not to
    sig_alg: SigAlg = "ed25519"  # how its commands are signed: ed25519 | sm2-sm3 (GY/T terminals)
    # The person responsible for it (专人, a people.csv person_id): 叫应'd when it stays silent.
    responsible_id: str | None = None
    provider: Provider = "mqtt"  # mqtt | eb (through the EB platform: device_id is its EBRID)


class MonitoringPoint(BaseModel):
    """A geohazard monitoring point (地质灾害隐患点): its alarm targets the households it threatens."""

    model_config = ConfigDict(frozen=True)

    point_id: str
    cell_code: str
    name: str
    lon: float
    lat: float
    kind: str  # landslide | debris_flow | collapse | subsidence …
    lead_person_id: str | None = None  # the point lead (点长)
    households: tuple[str, ...] = ()  # threatened households (受威胁户)


class WeChatGroup(BaseModel):
    """A village's or group's WeChat group (村/组微信群), posted to through its WeCom group robot.

    `robot_key` is a secret (anyone holding it can post to the group): never logged, never returned by the
    API in full (`masked`)."""

    model_config = ConfigDict(frozen=True)

    cell_code: str
    robot_key: str = Field(repr=False)
    name: str | None = None

    @property
    def masked(self) -> str:
        return mask_key(self.robot_key)


def mask_key(key: str) -> str:
    """A robot key as the console may show it: its last four characters."""
    return "…" + key[-4:] if len(key) > 8 else "…"
