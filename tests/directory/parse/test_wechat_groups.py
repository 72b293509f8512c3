"""wechat_groups.csv (village and group robot keys, issue 18) and people.csv's fcm_token column: per-row
problems with the line and column and never the key's value; keys never written back out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from warnengine.directory import County, check_county, write_county
from warnengine.model import Level
from warnengine.model.grid import WeChatGroup

KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"


def test_robot_keys_per_row_problems_and_never_exported(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    village = next(c.code for c in small_county.cells if c.level is Level.VILLAGE)
    group = next(c.code for c in small_county.cells if c.parent == village)
    township = next(c.code for c in small_county.cells if c.level is Level.TOWNSHIP)
    secret = "bad key with spaces-0123456789"
    rows = [
        f"{village},https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY},一村群",  # the whole address
        f"{group},{KEY[:-1]}b,",  # a bare key, no name
        f"{village},{KEY},重复",  # duplicate cell
        f"{township},{KEY},乡镇",  # not a village or group
        f"999999999999,{KEY},未知",  # unknown cell
        f"{group[:-2]}99,,",  # missing key (and unknown cell)
        f"{village[:-1]}9,{secret},",  # not a key: its value stays out of the report
    ]
    text = "村组编码（必填）,机器人Key,群名称\n" + "\n".join(rows) + "\n"
    (tmp_path / "wechat_groups.csv").write_text(text, encoding="utf-8")
    county, problems = check_county(tmp_path)
    assert county.wechat_groups == [
        WeChatGroup(cell_code=village, robot_key=KEY, name="一村群"),
        WeChatGroup(cell_code=group, robot_key=KEY[:-1] + "b"),
    ]
    mine = sorted((p.line, p.column) for p in problems if p.file == "wechat_groups.csv")
    assert mine == [
        (4, "cell_code"),
        (5, "cell_code"),
        (6, "cell_code"),
        (7, "cell_code"),
        (7, "robot_key"),
        (8, "cell_code"),
        (8, "robot_key"),
    ]
    assert secret not in repr(problems) and KEY not in repr(county.wechat_groups)  # repr hides the key
    out = tmp_path / "out"
    write_county(county, out)
    assert not (out / "wechat_groups.csv").exists()


def test_fcm_token_column_is_optional_and_round_trips(small_county: County, tmp_path: Path) -> None:
    someone = next(p for p in small_county.people if p.app_token)
    people = [
        p.model_copy(update={"fcm_token": "cXk3:APA91b-1"}) if p.person_id == someone.person_id else p
        for p in small_county.people
    ]
    write_county(dataclasses.replace(small_county, people=people), tmp_path)
    assert "fcm_token" in (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()[0]
    county, problems = check_county(tmp_path)
    assert not problems
    assert {p.person_id: p.fcm_token for p in county.people if p.fcm_token} == {
        someone.person_id: "cXk3:APA91b-1"
    }
    write_county(small_county, tmp_path / "plain")  # nobody has one: the column is left out
    assert "fcm_token" not in (tmp_path / "plain" / "people.csv").read_text(encoding="utf-8").splitlines()[0]
