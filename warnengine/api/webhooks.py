"""Provider callbacks (Twilio SMS status and replies, Twilio Voice call status and key presses, WeChat
Official Account, WeCom) on the API's app.

The routes live beside their adapters (channels/sms_twilio_webhook.py, channels/wechat_webhook.py); each
is mounted only when its secret is in the environment, because a callback whose signature cannot be
checked must not be served at all. Events they produce are published to `warnengine.channel-events` (a
JSON list of ChannelEvent per callback) for the pipeline; the API records nothing itself.

| routes | needs | optional |
|---|---|---|
| /webhooks/twilio/* (SMS, voice/*) | TWILIO_AUTH_TOKEN | WARNENGINE_PUBLIC_URL (the base Twilio was given) |
| /webhooks/wechat/oa | WECHAT_OA_TOKEN | WECHAT_OA_APPID, WECHAT_OA_AES_KEY (safe mode) |
| /webhooks/wecom | WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORPID | |
| /webhooks/tencent-sms/<token>/* | TENCENT_SMS_CALLBACK_TOKEN (16+ chars) | TENCENT_SMS_CALLBACK_ALLOW |
| /webhooks/tencent-voice/<token>/callback | TENCENT_VOICE_CALLBACK_TOKEN | TENCENT_VOICE_CALLBACK_ALLOW |
| /webhooks/eb/ebd (`eb_routes`) | WARNENGINE_EB_PLATFORM_URL and the EB settings | |

The EB platform's reports (channels/eb_platform_webhook.py) are signed SM2 packages, checked against its
configured public key: play states become terminal acks on `warnengine.acks`, terminal states go to the
devices table directly.

Tencent signs nothing it pushes, so its routes are mounted only with a secret path token (see
channels/sms_tencent_webhook.py); a token too short or an allow-list that does not parse mounts nothing
and says why in the log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from warnengine.api.context import Publisher
from warnengine.db.store import Store
from warnengine.model import SpeakerAck
from warnengine.obs import log as obslog
from warnengine.settings import Settings
from warnengine.wire import records, topics
from warnengine.wire.records import ChannelEvent

log = obslog.get("warnengine.api.webhooks")


def webhook_routes(publisher: Publisher, env: Mapping[str, str] | None = None) -> Sequence[web.RouteDef]:
    env = os.environ if env is None else env
    try:
        from channels import sms_tencent_webhook as tencent
        from channels import sms_twilio_webhook as twilio
        from channels import voice_tencent_webhook as tencent_voice
        from channels import voice_twilio_webhook as twilio_voice
        from channels import wechat_webhook as wechat
    except ImportError:  # a build without the channels work: nothing to mount
        return []

    async def on_events(events: list[ChannelEvent]) -> None:
        await publisher.publish(topics.CHANNEL_EVENTS, None, records.encode_channel_events(events))

    routes: list[web.RouteDef] = []
    if env.get("TWILIO_AUTH_TOKEN"):
        public = env.get("WARNENGINE_PUBLIC_URL") or None
        routes += twilio.twilio_routes(env["TWILIO_AUTH_TOKEN"], on_events, public_base=public)
        routes += twilio_voice.twilio_voice_routes(env["TWILIO_AUTH_TOKEN"], on_events, public_base=public)
    if env.get("WECHAT_OA_TOKEN"):
        routes += wechat.wechat_oa_routes(
            env["WECHAT_OA_TOKEN"],
            on_events,
            appid=env.get("WECHAT_OA_APPID") or None,
            encoding_aes_key=env.get("WECHAT_OA_AES_KEY") or None,
        )
    if env.get("WECOM_TOKEN") and env.get("WECOM_AES_KEY") and env.get("WECOM_CORPID"):
        routes += wechat.wecom_routes(
            env["WECOM_TOKEN"], env["WECOM_AES_KEY"], env["WECOM_CORPID"], on_events
        )
    if env.get("TENCENT_SMS_CALLBACK_TOKEN"):
        allow = [a.strip() for a in env.get("TENCENT_SMS_CALLBACK_ALLOW", "").split(",") if a.strip()]
        try:
            routes += tencent.tencent_routes(env["TENCENT_SMS_CALLBACK_TOKEN"], on_events, allow_from=allow)
        except ValueError as e:  # never the token itself in the log
            log.error("webhooks_tencent_not_mounted", error=str(e).split(":")[0][:200])
    if env.get("TENCENT_VOICE_CALLBACK_TOKEN"):
        allow = [a.strip() for a in env.get("TENCENT_VOICE_CALLBACK_ALLOW", "").split(",") if a.strip()]
        try:
            routes += tencent_voice.tencent_voice_routes(
                env["TENCENT_VOICE_CALLBACK_TOKEN"], on_events, allow_from=allow
            )
        except ValueError as e:  # never the token itself in the log
            log.error("webhooks_tencent_voice_not_mounted", error=str(e).split(":")[0][:200])
    if routes:
        log.info("webhooks_mounted", paths=sorted({str(getattr(r, "path", "")) for r in routes}))
    return routes


def eb_routes(store: Store, settings: Settings, publisher: Publisher) -> Sequence[web.RouteDef]:
    """The EB platform's report endpoint, when the platform is configured (else nothing)."""
    if not settings.eb_platform_url:
        return []
    from channels.eb_config import eb_channel
    from channels.eb_platform_webhook import EbReports, eb_platform_routes
    from warnengine.signing.sm2 import load_or_create_sm2_signer

    channel = eb_channel(
        settings, store, load_or_create_sm2_signer(settings.sm2_key_file()), store.dead_letter
    )

    async def on_acks(acks: list[SpeakerAck]) -> None:
        await publisher.publish(topics.ACKS, None, records.AckBatch(acks=acks).model_dump_json().encode())

    async def on_status(rows: Sequence[dict[str, Any]]) -> list[str]:
        changes, unknown = await store.record_device_status(rows)
        for c in changes:
            log.info(
                "eb_terminal_" + ("online" if c.online else "offline"), device_id=c.device_id, reason=c.reason
            )
        return unknown

    log.info("webhooks_mounted", paths=["/webhooks/eb/ebd"])
    return eb_platform_routes(EbReports(channel, on_acks, on_status))
