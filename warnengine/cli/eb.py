"""`warnengine eb pack FILE --out PACKAGE.tar [--json]`: the EBD package the county's emergency-broadcast
platform would get for a warning file (CAP, 国突 national dialect, JSON), so integrators can inspect it.

The EBM covers the warning's administrative area codes (6- or 9-digit codes padded to 12), or the
`--area` codes given. Signed with the engine's SM2 key (WARNENGINE_SM2_SIGNING_KEY_FILE; created on
first use) under WARNENGINE_EB_SRC_EBRID. `--json` prints {"ebdid", "ebm_id", "area_codes",
"public_key_hex"}; otherwise one line. Exit 2 for a file that does not parse, no area codes, or a
missing setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from warnengine.settings import Settings

SettingsOf = Callable[[argparse.Namespace], Settings]


def add_commands(sub: Any, settings_of: SettingsOf) -> None:
    eb = sub.add_parser("eb", help="the county emergency-broadcast platform (应急广播平台)")
    esub = eb.add_subparsers(dest="eb_command", required=True)
    pk = esub.add_parser("pack", help="build the signed EBD package (tar) for a warning file")
    pk.add_argument("file", type=Path)
    pk.add_argument("--out", type=Path, required=True, help="where to write the tar")
    pk.add_argument("--area", action="append", default=[], help="12-digit area code (repeatable)")
    pk.add_argument("--json", action="store_true")
    pk.set_defaults(fn=lambda a: pack(a, settings_of(a)))


def area_codes(codes: list[str]) -> tuple[str, ...]:
    """12-digit administrative codes, sorted, without repeats; ValueError for anything else."""
    out = set()
    for code in codes:
        code = code.strip()
        if not code.isdigit() or len(code) not in (6, 9, 12):
            raise ValueError(f"area code {code!r} is not a 6-, 9- or 12-digit administrative code")
        out.add(code.ljust(12, "0"))
    return tuple(sorted(out))


def pack(args: argparse.Namespace, s: Settings) -> int:
    try:
        result = _pack(args, s)
    except (OSError, ValueError) as e:
        print(f"warnengine eb pack: {e} / 无法生成应急广播数据包", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        n = len(result["area_codes"])
        print(f"EBD {result['ebdid']} (EBM {result['ebm_id']}, {n} area(s)) → {args.out}")
    return 0


def _pack(args: argparse.Namespace, s: Settings) -> dict[str, Any]:
    from channels.eb_config import eb_identity
    from channels.eb_package import EbPackager
    from warnengine.dispatch.compose import speaker_body
    from warnengine.model import command_id
    from warnengine.normalise.check import source_for
    from warnengine.normalise.errors import FeedError
    from warnengine.normalise.parse import parse_feed_checked
    from warnengine.signing.sm2 import load_or_create_sm2_signer
    from warnengine.wire.eb import CST, ebm_for

    raw = args.file.read_bytes()
    try:
        w, _ = parse_feed_checked(raw, source_for(raw))
    except FeedError as e:
        raise ValueError(f"{args.file}: {e.reason}: {e.detail}") from None
    areas = area_codes(args.area or [c for a in w.areas for c in a.codes])
    if not areas:
        raise ValueError(f"{args.file} names no administrative area code: give --area")
    ident = eb_identity(s)
    packager = EbPackager(ident, load_or_create_sm2_signer(s.sm2_key_file()))
    now = datetime.now(CST)
    expires = w.expires.timestamp() if w.expires else now.timestamp() + s.command_ttl_s
    text = speaker_body(w, command_id(w.warning_id, w.version), now.timestamp(), expires)["text"]
    ebm = ebm_for(
        w,
        ebm_id=packager.new_ebm_id(),
        text=text,
        area_codes=areas,
        sender_name=s.eb_sender_name,
        sender_code=s.eb_sender_code or ident.src_ebrid,
        now=now,
    )
    ebd, tar = packager.package("EBM", ebm)
    args.out.write_bytes(tar)
    return {
        "ebdid": ebd.header.ebd_id,
        "ebm_id": ebm.ebm_id,
        "area_codes": list(areas),
        "public_key_hex": packager.public_key_hex,
    }
