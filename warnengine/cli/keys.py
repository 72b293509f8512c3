"""`warnengine keys status|rotate|retire`: the signing-key rotation of docs/operations.md.

    warnengine keys rotate             # new pending key, published beside the active one
    (give terminals the published set: they now trust both)
    warnengine keys rotate --activate  # the pending key becomes active; restart the workers
    (once every terminal has the new key and no command signed by the old one is in flight)
    warnengine keys retire OLD_KID     # the old public key leaves the published set

Run where the key files are writable (the signing host, or the source of the mounted secret).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from warnengine.settings import Settings

SettingsOf = Callable[[argparse.Namespace], Settings]
ALG_CHOICES = ["ed25519", "sm2-sm3"]


def add_commands(sub: Any, settings_of: SettingsOf) -> None:
    keys = sub.add_parser("keys", help="signing keys: status, rotation with an overlap, retirement")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    st = ksub.add_parser("status", help="active, pending, published and retired keys")
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=lambda a: _run(a, settings_of(a), _status))
    rot = ksub.add_parser("rotate", help="create a pending key and publish it (no signing yet); --activate")
    rot.add_argument("--alg", default="ed25519", choices=ALG_CHOICES)
    rot.add_argument(
        "--activate", action="store_true", help="sign with the pending key from the workers' next start"
    )
    rot.add_argument("--json", action="store_true")
    rot.set_defaults(fn=lambda a: _run(a, settings_of(a), _rotate))
    ret = ksub.add_parser("retire", help="remove an old public key from the set terminals trust")
    ret.add_argument("kid", help="key id (16 hex digits, `warnengine keys status`)")
    ret.add_argument("--alg", default="ed25519", choices=ALG_CHOICES)
    ret.add_argument(
        "--destroy-private", action="store_true", help="also delete the retired private key (irreversible)"
    )
    ret.add_argument("--json", action="store_true")
    ret.set_defaults(fn=lambda a: _run(a, settings_of(a), _retire))


def _run(args: argparse.Namespace, settings: Settings, fn: Callable[..., dict[str, Any]]) -> int:
    from warnengine.signing.sm2 import Sm2Unavailable

    try:
        result = fn(args, settings)
    except (OSError, ValueError, Sm2Unavailable) as e:
        print(f"warnengine keys {args.keys_command}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(result.pop("message"))
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from warnengine.signing.rotation import key_set, status

    sets = [status(key_set(settings, alg)) for alg in ALG_CHOICES]
    lines = [
        f"{s['alg']}: 生效 / active {s['active'] or '-'}, 待生效 / pending {s['pending'] or '-'}, "
        f"已发布 / published {', '.join(s['published']) or '-'}, "
        f"已退役私钥 / retired private {', '.join(s['retired_private']) or '-'}"
        for s in sets
    ]
    return {"keys": sets, "message": "\n".join(lines)}


def _rotate(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from warnengine.signing.rotation import activate, key_set, rotate

    ks = key_set(settings, args.alg)
    if args.activate:
        done = activate(ks)
        if done is None:
            msg = "没有待生效的密钥，未改变 / no pending key, nothing changed (run `warnengine keys rotate`)"
            return {"changed": False, "message": msg}
        old, new = done
        msg = (
            f"{args.alg}: {new} 已生效，{old} 仍在发布集中 / {new} is active, {old} stays published; "
            "重启 worker 后用新密钥签名 / workers sign with it after their restart"
        )
        return {"changed": True, "old": old, "active": new, "message": msg}
    kid, created = rotate(ks)
    if created:
        msg = (
            f"{args.alg}: 新密钥 {kid} 已创建并发布（尚未用于签名）/ new key {kid} created and published "
            f"(not signing yet): give terminals {ks.published}, then `warnengine keys rotate --activate`"
        )
    else:
        msg = f"{args.alg}: 已有待生效密钥 {kid}，未改变 / pending key {kid} exists, nothing changed"
    return {"changed": created, "pending": kid, "published": str(ks.published), "message": msg}


def _retire(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from warnengine.signing.rotation import key_set, retire

    removed = retire(key_set(settings, args.alg), args.kid, destroy_private=args.destroy_private)
    if removed:
        msg = f"{args.alg}: {args.kid} 已退役 / retired; 已删除 / removed {', '.join(map(str, removed))}"
    else:
        msg = f"{args.alg}: {args.kid} 不在发布集中，未改变 / not published, nothing changed"
    return {"changed": bool(removed), "removed": [str(p) for p in removed], "message": msg}
