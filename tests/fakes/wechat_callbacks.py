"""Signed callbacks WeChat (OA) and WeCom would post to us, for the webhook tests."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from channels.wechat_crypto import WXBizMsgCrypt, signature
from tests.fakes.wechat import AGENT_ID, CORPID


def oa_query(token: str, timestamp: int, nonce: str = "nonce123", **extra: str) -> dict[str, str]:
    """The query string of a plain-mode OA callback (GET verification or POST message)."""
    return {
        "signature": signature(token, str(timestamp), nonce),
        "timestamp": str(timestamp),
        "nonce": nonce,
        **extra,
    }


def oa_text_xml(openid: str, content: str, created: int, msg_id: int = 1234567890123456) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def oa_event_xml(openid: str, event: str, created: int, **fields: str) -> str:
    extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )


def wecom_card_click_xml(userid: str, key: str, task_id: str, created: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
        f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{secrets.token_urlsafe(16)}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
    )


def encrypted_post(
    crypt: WXBizMsgCrypt, plain_xml: str, timestamp: int, nonce: str = "n0nce"
) -> tuple[str, str]:
    """(query string, body) of an encrypted callback as WeCom (or an OA in safe mode) posts it."""
    enc = crypt.encrypt(plain_xml)
    query = {
        "msg_signature": crypt.sign(str(timestamp), nonce, enc),
        "timestamp": str(timestamp),
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{crypt.receive_id}]]></ToUserName>"
        f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    return urlencode(query), body
