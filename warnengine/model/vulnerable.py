"""The vulnerable register (重点人群包保, issue 17): per vulnerable household its category, what it needs to
move, and the named helper (包保责任人, a person of the directory) who goes to that door first."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class VulnerableCategory(StrEnum):
    LIVING_ALONE = "living_alone"  # 独居
    ELDERLY = "elderly"  # 高龄
    DISABLED = "disabled"  # 残疾
    BEDRIDDEN = "bedridden"  # 卧床 / 失能
    OTHER = "other"  # 其他: pregnant, a child alone, a chronic illness…


class Mobility(StrEnum):
    """What it takes to move the household's vulnerable person."""

    INDEPENDENT = "independent"  # 能自行转移
    ASSISTED = "assisted"  # 需搀扶 (the default: a register entry exists because help is likely needed)
    WHEELCHAIR = "wheelchair"  # 需轮椅
    STRETCHER = "stretcher"  # 需担架 / 抬送


CATEGORY_ZH = {
    VulnerableCategory.LIVING_ALONE: "独居",
    VulnerableCategory.ELDERLY: "高龄",
    VulnerableCategory.DISABLED: "残疾",
    VulnerableCategory.BEDRIDDEN: "卧床",
    VulnerableCategory.OTHER: "其他",
}
MOBILITY_ZH = {
    Mobility.INDEPENDENT: "能自行转移",
    Mobility.ASSISTED: "需搀扶",
    Mobility.WHEELCHAIR: "需轮椅",
    Mobility.STRETCHER: "需担架",
}


class VulnerableEntry(BaseModel):
    """One row of the directory's optional vulnerable(.csv|.xlsx)."""

    model_config = ConfigDict(frozen=True)

    household_id: str
    category: VulnerableCategory
    mobility: Mobility = Mobility.ASSISTED
    helper_person_id: str | None = None  # 包保责任人: gets the door at once for the policy's severities
    note: str = ""

    def label(self) -> str:
        """How visit lists and messages name it: 独居·需轮椅."""
        return f"{CATEGORY_ZH[self.category]}·{MOBILITY_ZH[self.mobility]}"
