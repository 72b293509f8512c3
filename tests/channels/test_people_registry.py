"""The WeChat and push adapters are found through the entry-point group and meet the adapter protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from channels import registry
from channels.base import ChannelAdapter
from tests.fakes.fcm import service_account
from warnengine.model import Channel

ARGS: dict[str, tuple[tuple[Any, ...], Channel]] = {
    "wecom-robot": ((), Channel.WECHAT_GROUP),
    "wecom-app": (("ww1", "secret", 1000002), Channel.WECOM),
    "wechat-oa": (("wx1", "secret", "tpl"), Channel.WECHAT),
    "jpush": (("key", "secret"), Channel.APP),
}


async def test_entry_points_load_adapters_that_meet_the_protocol(tmp_path: Path) -> None:
    sa = service_account("http://127.0.0.1:9/token")
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(sa))
    fcm = {"fcm": (("project", sa), Channel.APP), "fcm ": (("project", str(key_file)), Channel.APP)}
    for name, (args, kind) in {**ARGS, **fcm}.items():
        adapter = registry.load(name.strip())(*args)
        assert isinstance(adapter, ChannelAdapter), name
        assert adapter.kind == kind and adapter.batch_size > 0 and adapter.name == name.strip()
        await adapter.stop()
