"""Organisations (issue 17): schools, kindergartens, enterprises, construction sites, scenic spots… with
their own responsible persons, planned, messaged, acknowledged and escalated like households."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class OrgKind(StrEnum):
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"
    ENTERPRISE = "enterprise"
    CONSTRUCTION_SITE = "construction_site"
    SCENIC_SPOT = "scenic_spot"
    HOSPITAL = "hospital"
    CARE_HOME = "care_home"
    OTHER = "other"


# The kinds as counties write them in orgs.csv / orgs.xlsx.
KIND_ALIASES = {
    "学校": "school",
    "中小学": "school",
    "小学": "school",
    "中学": "school",
    "幼儿园": "kindergarten",
    "托儿所": "kindergarten",
    "企业": "enterprise",
    "工厂": "enterprise",
    "厂矿": "enterprise",
    "工地": "construction_site",
    "建筑工地": "construction_site",
    "在建工地": "construction_site",
    "景区": "scenic_spot",
    "旅游景区": "scenic_spot",
    "景点": "scenic_spot",
    "医院": "hospital",
    "卫生院": "hospital",
    "养老院": "care_home",
    "敬老院": "care_home",
    "福利院": "care_home",
    "其他": "other",
}

KIND_NAMES = {
    OrgKind.SCHOOL: "学校",
    OrgKind.KINDERGARTEN: "幼儿园",
    OrgKind.ENTERPRISE: "企业",
    OrgKind.CONSTRUCTION_SITE: "工地",
    OrgKind.SCENIC_SPOT: "景区",
    OrgKind.HOSPITAL: "医院",
    OrgKind.CARE_HOME: "养老院",
    OrgKind.OTHER: "其他",
}


class Org(BaseModel):
    """An organisation of the directory's optional orgs(.csv|.xlsx)."""

    model_config = ConfigDict(frozen=True)

    org_id: str
    cell_code: str  # a group or a village cell
    kind: OrgKind
    name: str
    lon: float
    lat: float
    headcount: int  # students, workers, visitors on a usual day
    responsible: tuple[str, ...] = ()  # person ids in the directory (负责人), first is the main one
