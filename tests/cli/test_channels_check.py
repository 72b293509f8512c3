"""`warnengine channels check` against the strict fakes: a misconfigured template, a bad credential and a
wrong project are reported distinctly, and the exit code says something would fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.fcm import PROJECT, FakeFcm
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.fakes.wechat import OA_APPID, OA_SECRET, FakeWeChat
from warnengine.cli.channels_check import check_all
from warnengine.cli.main import main

TEMPLATE = "{1}发布{2}，请{3}。收到请回复1。"


def config(
    tencent: FakeTencentSms, twilio: FakeTwilio, fcm: FakeFcm, wx: FakeWeChat, **bad: Any
) -> dict[str, Any]:
    sa = fcm.new_service_account()
    return {
        "sms": {
            "providers": [
                {
                    "adapter": "sms-twilio",
                    "name": "twilio",
                    "params": {
                        "account_sid": ACCOUNT_SID,
                        "auth_token": bad.get("twilio_token", AUTH_TOKEN),
                        "from_": "+15005550006",
                        "api_base": twilio.base_url,
                    },
                },
                {
                    "adapter": "sms-tencent",
                    "name": "tencent",
                    "params": {
                        "secret_id": SECRET_ID,
                        "secret_key": SECRET_KEY,
                        "sdk_app_id": SDK_APP_ID,
                        "template_id": bad.get("template_id", "1234567"),
                        "template": TEMPLATE,
                        "sign_name": "县应急管理局",
                        "endpoint": tencent.base_url,
                    },
                },
            ]
        },
        "wechat": {
            "providers": [
                {
                    "adapter": "wechat-oa",
                    "name": "wechat-oa",
                    "params": {
                        "appid": OA_APPID,
                        "secret": OA_SECRET,
                        "template_id": "tpl",
                        "api_base": wx.base_url,
                    },
                }
            ]
        },
        "app": {
            "providers": [
                {
                    "adapter": "fcm",
                    "name": "fcm",
                    "params": {
                        "project_id": bad.get("project", PROJECT),
                        "service_account": json.dumps(sa),
                        "api_base": fcm.base_url,
                    },
                }
            ]
        },
    }


async def test_template_credential_and_project_faults_are_reported_distinctly(tmp_path: Path) -> None:
    async with (
        FakeTencentSms(templates={"1234567": TEMPLATE}) as tencent,
        FakeTwilio() as twilio,
        FakeFcm(registered=set()) as fcm,
        FakeWeChat() as wx,
    ):
        tencent.pending_templates["7654321"] = TEMPLATE  # submitted, still in review
        good = tmp_path / "good.yaml"
        good.write_text(yaml.safe_dump(config(tencent, twilio, fcm, wx), allow_unicode=True))
        assert {f.provider: f.status for f in await check_all(good)} == {
            "twilio": "ok",
            "tencent": "ok",
            "wechat-oa": "ok",
            "fcm": "ok",
        }
        bad = tmp_path / "bad.yaml"
        cfg = config(tencent, twilio, fcm, wx, template_id="7654321", twilio_token="0" * 32, project="other")
        bad.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        found = {f.provider: f.status for f in await check_all(bad)}
        assert found == {"twilio": "credential", "tencent": "template", "wechat-oa": "ok", "fcm": "project"}
        assert fcm.validated == 0 and not fcm.delivered and not tencent.accepted and not twilio.accepted


def test_cli_exit_code_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "sms": {
                    "providers": [
                        {
                            "adapter": "sms-tencent",
                            "name": "tencent",
                            "params": {
                                "secret_id": SECRET_ID,
                                "secret_key": SECRET_KEY,
                                "sdk_app_id": SDK_APP_ID,
                                "template_id": "1",
                                "sign_name": "x",
                            },
                        }
                    ]
                }
            }
        )
    )
    with pytest.raises(SystemExit) as exit_:
        main(["channels", "check", "--config", str(path), "--json"])
    assert exit_.value.code == 1
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "template" and row["failed"] and SECRET_KEY not in json.dumps(row)
