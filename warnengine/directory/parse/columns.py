"""Column names as counties write them: the project's own names, or a common Chinese header.

One table (`ALIASES`) lists them; docs/operations.md shows it. A header cell is matched after NFKC
normalisation (full-width letters and brackets become ASCII), case folding, and dropping spaces, a
required-field star and a bracketed note: "手机号码（必填）*" is 手机号码. Values of the role and the 0/1
columns may be written in Chinese as well (居民, 网格长…; 是/否).
"""

from __future__ import annotations

import re
import unicodedata

ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("人员编号", "人员id", "人员代码"),
    "household_id": ("户号", "户编号", "家庭编号", "户id"),
    "cell_code": ("所属网格", "网格编码", "网格代码", "所属网格编码", "区划代码", "村组编码"),
    "name": ("姓名", "名称", "隐患点名称", "安置点名称", "群名称", "群名", "单位名称"),
    "role": ("角色", "身份", "人员类别"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "电话号码"),
    "wechat_openid": ("微信openid", "openid"),
    "app_token": ("app令牌", "推送令牌", "极光推送id", "jpush_id"),
    "fcm_token": ("fcm令牌", "第二推送令牌", "fcm"),
    "wecom_userid": ("企业微信账号", "企业微信userid", "企业微信id", "企微账号", "wecom"),
    # wechat_groups(.csv|.xlsx), village and group WeChat groups (村/组微信群)
    "robot_key": ("机器人key", "机器人密钥", "群机器人key", "群机器人", "webhook", "webhook_key"),
    "lon": ("经度", "longitude", "lng", "x"),
    "lat": ("纬度", "latitude", "y"),
    "members": ("人口数", "家庭人口", "人数", "户人口"),
    "vulnerable": ("重点人群", "特殊群体", "弱势群体", "脆弱户"),
    "device_id": ("设备编号", "终端编号", "终端id"),
    "kind": ("类型", "设备类型", "灾害类型", "隐患类型", "点位类型", "监测点类型", "单位类型"),
    "point_id": ("隐患点编号", "监测点编号", "点位编号", "易涝点编号"),
    "lead_person_id": ("监测责任人", "责任人编号", "监测人编号"),
    "households": ("威胁户", "受威胁户", "受威胁户号"),
    "drill_opt_in": ("参与演练", "演练"),
    # shelters(.csv|.xlsx), disaster shelters (避灾安置场所)
    "shelter_id": ("安置点编号", "避难场所编号", "安置场所编号"),
    "capacity": ("容纳人数", "可容纳人数", "容量", "安置人数"),
    "keeper_person_id": ("管理员", "管理员编号", "安置点负责人", "负责人编号"),
    # vulnerable(.csv|.xlsx), the vulnerable register (重点人群包保台账)
    "category": ("类别", "人群类别", "重点人群类别", "困难类别"),
    "mobility": ("转移需求", "行动能力", "转移方式"),
    "helper_person_id": ("包保责任人", "包保人", "帮扶人", "帮扶责任人", "包保责任人编号"),
    "note": ("备注", "说明"),
    # orgs(.csv|.xlsx): schools, enterprises, construction sites, scenic spots… (单位)
    "org_id": ("单位编号", "单位代码", "机构编号"),
    "headcount": ("在校人数", "在岗人数", "单位人数", "人员规模", "容纳人员"),
    "responsible": ("负责人", "负责人编号", "责任人", "单位负责人", "安全责任人", "责任人员"),
    "sig_alg": ("签名算法",),
    "responsible_id": ("专人", "责任人", "负责人", "管护人", "专管员", "管理人员编号"),
    "provider": ("接入方式", "播发通道"),
    # duty(.csv|.xlsx), the roster (值班表)
    "post": ("岗位", "岗次", "值班岗位", "ab岗"),
    "start": ("开始时间", "上岗时间", "值班开始", "接班时间", "起始时间"),
    "end": ("结束时间", "下岗时间", "值班结束", "交班时间", "截止时间"),
}

POST_ALIASES = {
    "a": "A",
    "a岗": "A",
    "a角": "A",
    "主岗": "A",
    "b": "B",
    "b岗": "B",
    "b角": "B",
    "副岗": "B",
    "deputy": "deputy",
    "副职": "deputy",
    "副网格长": "deputy",
    "带班": "deputy",
    "带班领导": "deputy",
}

ROLE_ALIASES = {
    "居民": "resident",
    "村民": "resident",
    "网格长": "grid_head",
    "网格员": "grid_member",
    "专职网格员": "grid_member",
    "调度员": "dispatcher",
    "值班员": "dispatcher",
    "信息员": "info_officer",
    "灾害信息员": "info_officer",
    "村民小组长": "group_leader",
    "组长": "group_leader",
    "监测员": "point_lead",
    "隐患点监测员": "point_lead",
    "监测责任人": "point_lead",
}

FLAG_ALIASES = {"是": "1", "否": "0", "y": "1", "n": "0", "yes": "1", "no": "0", "true": "1", "false": "0"}

_NOTE = re.compile(r"\(.*\)$")


def normalise(header: str) -> str:
    """A header cell as compared: NFKC, lower case, no spaces, no trailing star or (note)."""
    text = unicodedata.normalize("NFKC", header).strip().lower()
    text = "".join(text.split()).strip("*")
    return _NOTE.sub("", text).strip("*")


def lookup(fields: tuple[str, ...]) -> dict[str, str]:
    """Normalised header text → field name, for the fields one table has."""
    out = {normalise(f): f for f in fields}
    for f in fields:
        for alias in ALIASES.get(f, ()):
            out.setdefault(normalise(alias), f)
    return out


def flag(text: str) -> str:
    """A 0/1 field as written: 是/否 and yes/no mean 1/0; anything else is left for the check."""
    return FLAG_ALIASES.get(text.lower(), text)
