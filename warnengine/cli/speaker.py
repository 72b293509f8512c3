"""`warnengine speaker`: flags and the run loop of the reference terminal (wired into cli/main.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from warnengine.cli.mqtt_args import add_security_arguments, security_from_args
from warnengine.settings import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", required=True, help="terminal id (its topic segment)")
    p.add_argument("--village", required=True, help="12-digit village code")
    p.add_argument(
        "--mqtt-url",
        default=None,
        help="mqtt://host:port or mqtts://host:8883 (TLS) (default: WARNENGINE_MQTT_URL)",
    )
    p.add_argument("--protocol", default="auto", choices=["auto", "5", "4"], help="MQTT 5, 3.1.1 or auto")
    p.add_argument("--client-id", default=None, help="stable MQTT client id (default spk-<device>)")
    add_security_arguments(p, "MQTT user (default: the device id when a password is set)")
    p.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=None,
        help="trusted engine public key, repeat during a key rotation: Ed25519 (PEM) or SM2 (PEM or hex), "
        "told apart by content; the terminal accepts only the algorithms it has keys for "
        "(default: the published set <data-dir>/keys/published/ed25519-*.pub, "
        "else <data-dir>/keys/engine.key.pub)",
    )
    p.add_argument("--sink", default="null", help="null | record:FILE | espeak")
    p.add_argument("--play-seconds", type=float, default=0.0, help="duration of one repeat (null/record)")
    p.add_argument("--heartbeat", type=float, default=30.0, help="seconds between status re-publishes")
    p.add_argument("--volume", type=int, default=80)
    p.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="replay journal: nonces and command ids accepted, kept across restarts "
        "(default: <data-dir>/speaker/<device>.journal; 'none' keeps them in memory only)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: building the `warnengine` parser must not load paho and cryptography.
    from warnengine.clock import SystemClock
    from warnengine.obs import log as obslog
    from warnengine.signing import load_verifiers
    from warnengine.signing.rotation import trusted_public_keys
    from warnengine.speaker.link import LinkConfig
    from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
    from warnengine.speaker.sinks import make_sink
    from warnengine.transport.mqtt import MqttError

    obslog.configure("info")
    url = args.mqtt_url or settings.mqtt_url or "mqtt://127.0.0.1:1883"
    try:
        host, port = settings.model_copy(update={"mqtt_url": url}).mqtt_host_port()
        security = security_from_args(args, args.device, url)
    except ValueError as e:
        print(f"warnengine speaker: {e}", file=sys.stderr)
        return 2
    link = LinkConfig(
        host=host,
        port=port,
        client_id=args.client_id or f"spk-{args.device}",
        protocol=args.protocol,
        security=security,
    )
    keys = args.public_key or trusted_public_keys(settings, sm2=False)
    journal = args.journal or settings.data_dir / "speaker" / f"{args.device}.journal"
    cfg = TerminalConfig(
        args.device,
        args.village,
        link,
        heartbeat_s=args.heartbeat,
        volume=args.volume,
        journal=None if str(journal) == "none" else journal,
    )
    terminal = ReferenceTerminal(
        cfg, load_verifiers(keys), make_sink(args.sink, args.play_seconds), SystemClock()
    )

    async def main() -> None:
        await terminal.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(terminal.run())
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        await terminal.stop()
        if runner.done() and not runner.cancelled():
            runner.result()  # a loop that failed: exit non-zero with its error

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    except MqttError as e:  # refused (bad password, not authorised) or unreachable: say so, no traceback
        print(f"warnengine speaker: {e}", file=sys.stderr)
        return 1
    return 0
