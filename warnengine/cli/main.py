"""The `warnengine` command. Settings come from WARNENGINE_* variables; flags override a few."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from warnengine.cli.channels_check import add_commands as channels_commands
from warnengine.obs import log as obslog
from warnengine.settings import Settings


def _settings(args: argparse.Namespace, endpoints: bool = True) -> Settings:
    over = {
        k: v
        for k, v in {
            "data_dir": getattr(args, "data_dir", None),
            "county_dir": getattr(args, "county", None),
        }.items()
        if v is not None
    }
    settings = Settings(**over)
    return fill_from_endpoints(settings) if endpoints else settings


def fill_from_endpoints(settings: Settings) -> Settings:
    """Unset URLs come from the endpoints file a running `warnengine up` wrote in the data directory."""
    path = settings.data_dir / "endpoints.json"
    if (settings.kafka_url and settings.mqtt_url) or not path.exists():
        return settings
    found = json.loads(path.read_text())
    update = {}
    if not settings.kafka_url and found.get("kafka_url"):
        update["kafka_url"] = found["kafka_url"]
    if not settings.mqtt_url and found.get("mqtt_url"):
        update["mqtt_url"] = found["mqtt_url"]
        update["mqtt_protocol"] = found.get("mqtt_protocol", settings.mqtt_protocol)
    return settings.model_copy(update=update)


def cmd_up(args: argparse.Namespace) -> int:
    from warnengine.dispatch.in_use import providers_in_use
    from warnengine.embedded.stack import Stack
    from warnengine.embedded.visitors import visitors_if_simulated

    async def main() -> None:
        # Not the endpoints of an earlier `up`: its embedded brokers are gone; this one starts its own.
        stack = Stack(_settings(args, endpoints=False), simulated_people=True)
        try:
            await stack.prepare()
            roles = worker_roles(args.workers, args.roles)
            for n, role in enumerate(roles):
                stack.start_worker(n, role)
            for n in range(len(roles)):
                await stack.wait_ready(n)
            supervisor = stack.supervise()
            if not args.no_terminals:
                from warnengine.embedded.brokers import spawn

                supervisor.add(
                    "terminals",
                    lambda: spawn(
                        [sys.executable, "-m", "warnengine", "terminals"],
                        stack.settings.data_dir / "logs" / "terminals.log",
                        env=stack.env(),
                    ),
                )
            watch = asyncio.create_task(supervisor.run())
            s = stack.settings
            api = None
            if not args.no_api:
                from warnengine.api.app import start_api

                api = await start_api(s)
            providers = providers_in_use(s.channels_file, s.simulated_providers)
            print(
                json.dumps(
                    {
                        "kafka": s.kafka_url,
                        "mqtt": s.mqtt_url,
                        "database": s.db_url(),
                        "metrics": [f"http://127.0.0.1:{p}/metrics" for p in stack.worker_ports.values()],
                        "feed_topics": [
                            f"warnengine.feed.{x}" for x in ("meteo", "flood", "forest_fire", "geohazard")
                        ],
                        "logs": str(s.data_dir / "logs"),
                        "console": f"{api.url}/console/" if api else None,
                        "providers": providers.mode,
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
            demo = await stack.demo_users() if api else None
            if demo:
                print(demo, file=sys.stderr, flush=True)
            # After the demo users: the visitors' own account must not count as "users exist".
            visitors = await visitors_if_simulated(s, api.url if api else None, providers.mode)
            print(f"{providers.label}: {json.dumps(providers.channels)}", file=sys.stderr, flush=True)
            print("warnengine is up; Ctrl-C stops it.", file=sys.stderr, flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            supervisor.stopping = True
            await watch
            if visitors:
                await visitors.stop()
            if api:
                await api.stop()
            print(f"restarts: {json.dumps(supervisor.restarts)}", file=sys.stderr, flush=True)
        finally:
            stack.stop()

    from warnengine.sim.scenario import ScenarioError

    try:
        asyncio.run(main())
    except ScenarioError as e:  # the simulated population's file: the field is named, no traceback
        print(f"warnengine up: {e}", file=sys.stderr)
        return 2
    return 0


ROLES = ("all", "dispatch", "acks")
UP_ROLES = "all"  # what `up` runs on 2 cores when --roles is not given: measured, docs/operations.md


def worker_roles(workers: int, roles: str | None) -> list[str]:
    """The role of each worker `up` starts: --roles as given, else `workers` of role UP_ROLES."""
    if not roles:
        return [UP_ROLES] * workers
    out = [r.strip() for r in roles.split(",") if r.strip()]
    bad = [r for r in out if r not in ROLES]
    if bad or not out:
        raise SystemExit(f"--roles: unknown role {bad or roles!r}; choose from {', '.join(ROLES)} (未知角色)")
    if "all" in out and len(set(out)) > 1:
        raise SystemExit("--roles: either all, or dispatch and acks, not a mix (角色不可混用)")
    if "all" not in out and set(out) != {"dispatch", "acks"}:
        raise SystemExit("--roles: a split needs at least one dispatch and one acks worker (需调度与确认)")
    return out


def cmd_worker(args: argparse.Namespace) -> int:
    from warnengine.pipeline.worker import run_worker

    settings = _settings(args)
    if args.role:
        settings = settings.model_copy(update={"worker_role": args.role})
    run_worker(settings)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from warnengine.embedded.demo import demo_main

    obslog.configure("warning")
    s = _settings(args)
    if args.data_dir is None:
        s = s.model_copy(update={"data_dir": Path("var/demo")})
    return demo_main(s, args.timeout)


def cmd_terminals(args: argparse.Namespace) -> int:
    from warnengine.cli.mqtt_args import given, security_from_args
    from warnengine.clock import SystemClock, clock_for
    from warnengine.db import connect
    from warnengine.db.store import Store
    from warnengine.embedded.terminals import start_farm
    from warnengine.transport.mqtt import MqttError

    obslog.configure("info")

    async def main() -> None:
        s = _settings(args)
        store = Store(connect(s.db_url()), SystemClock())
        devices = await store.device_villages()
        await store.close()
        security = security_from_args(args, None, s.mqtt_url or "") if given(args) else None
        # The stack's engine clock (accelerated under `demo`): terminals judge command times by it.
        clock = clock_for(s.clock_speed, s.clock_epoch)
        farm = await start_farm(s, devices.items(), clock, play_seconds=args.play_seconds, security=security)
        await farm.run()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    except (MqttError, ValueError) as e:  # refused or unreachable broker, contradictory flags: no traceback
        print(f"warnengine terminals: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_speaker(args: argparse.Namespace) -> int:
    from warnengine.cli.speaker import run

    return run(args, _settings(args))


def cmd_broadcast(args: argparse.Namespace) -> int:
    from warnengine.cli.broadcast import run

    return run(args, _settings(args))


def cmd_gen_county(args: argparse.Namespace) -> int:
    from warnengine.directory import generate_county, write_county

    county = generate_county(
        seed=args.seed,
        townships=args.townships,
        villages=args.villages,
        households_per_group=(args.households_min, args.households_max),
    )
    write_county(county, args.out)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "cells": len(county.cells),
                "households": len(county.households),
                "people": len(county.people),
                "devices": len(county.devices),
            }
        )
    )
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from aiokafka import AIOKafkaProducer

    from warnengine.wire import topics

    payload = Path(args.file).read_bytes()

    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=_settings(args).kafka_bootstrap())
        await producer.start()
        try:
            await producer.send_and_wait(topics.feed_topic(args.source), payload)
        finally:
            await producer.stop()

    asyncio.run(main())
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from warnengine.db import connect, migrate

    async def main() -> None:
        engine = connect(_settings(args).db_url())
        await migrate(engine)
        await engine.dispose()

    asyncio.run(main())
    return 0


def cmd_cap(args: argparse.Namespace) -> int:
    from warnengine.normalise.check import run

    trust_file = args.trust
    if trust_file is None and not args.no_trust:
        default = _settings(args).trust_file
        trust_file = default if default and default.exists() else None
    return run(args.paths, trust_file=trust_file, as_json=args.json, source=args.source)


def _install_commands(sub: Any) -> None:
    """`warnengine init` (production), `warnengine keys status|rotate|retire`, `warnengine duty`."""
    from warnengine.cli.init import add_command as init_command
    from warnengine.cli.keys import add_commands as keys_commands

    init_command(sub, lambda a: _settings(a, endpoints=False))  # never an embedded broker's endpoints
    keys_commands(sub, _settings)
    from warnengine.cli.duty import add_commands as duty_commands

    duty_commands(sub, _settings)  # `warnengine duty import|now`


def _worker_commands(sub: Any) -> None:
    """`warnengine up` and `warnengine worker`, with their process roles."""
    up = sub.add_parser("up", help="run everything; embedded broker, MQTT and SQLite where no URL is set")
    up.add_argument("--workers", type=int, default=1)
    up.add_argument(
        "--roles",
        default=None,
        help="one role per worker, comma-separated (e.g. dispatch,acks); default: --workers of role all",
    )
    up.add_argument("--no-terminals", action="store_true", help="do not simulate the county's terminals")
    up.add_argument("--no-api", action="store_true", help="do not serve the dispatcher API and console")
    up.set_defaults(fn=cmd_up)

    wk = sub.add_parser("worker", help="run one more pipeline worker (needs WARNENGINE_KAFKA_URL...)")
    wk.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="all (default, WARNENGINE_WORKER_ROLE); dispatch: feeds to commands; acks: acks in",
    )
    wk.set_defaults(fn=cmd_worker)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warnengine", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (default: var)")
    p.add_argument("--county", type=Path, default=None, help="county directory (default: config/county)")
    sub = p.add_subparsers(dest="command", required=True)

    _worker_commands(sub)
    _install_commands(sub)

    demo = sub.add_parser("demo", help="one red rainstorm warning end to end; prints a JSON summary")
    demo.add_argument("--timeout", type=float, default=150.0, help="wall seconds for the loop to close")
    demo.set_defaults(fn=cmd_demo)

    term = sub.add_parser("terminals", help="simulate every loudspeaker terminal of the county")
    term.add_argument("--play-seconds", type=float, default=0.0)
    from warnengine.cli.mqtt_args import add_security_arguments

    add_security_arguments(term, "MQTT user of the simulated farm (default: the engine's, WARNENGINE_MQTT_*)")
    term.set_defaults(fn=cmd_terminals)

    from warnengine.cli.speaker import add_arguments as speaker_arguments

    spk = sub.add_parser("speaker", help="the reference loudspeaker terminal, a real MQTT client")
    speaker_arguments(spk)
    spk.set_defaults(fn=cmd_speaker)

    from warnengine.cli.broadcast import add_arguments as broadcast_arguments

    bc = sub.add_parser("broadcast", help="manual broadcast to the loudspeakers of some areas (signed)")
    broadcast_arguments(bc)
    bc.set_defaults(fn=cmd_broadcast)

    gen = sub.add_parser("gen-county", help="generate a realistic county directory")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--townships", type=int, default=13)
    gen.add_argument("--villages", type=int, default=150)
    gen.add_argument("--households-min", type=int, default=8)
    gen.add_argument("--households-max", type=int, default=16)
    gen.set_defaults(fn=cmd_gen_county)

    from warnengine.cli.directory import add_commands as directory_commands

    directory_commands(sub, _settings)
    from warnengine.cli.report import add_commands as report_commands

    report_commands(sub, _settings)
    from warnengine.cli.eb import add_commands as eb_commands

    eb_commands(sub, _settings)  # `warnengine eb pack`
    channels_commands(sub, _settings)
    from warnengine.cli.simulate import add_commands as sim_commands

    sim_commands(sub, _settings)

    send = sub.add_parser("send", help="put a feed message (CAP XML or JSON file) on a feed topic")
    send.add_argument("file")
    send.add_argument(
        "--source",
        default="meteo",
        choices=["meteo", "flood", "forest_fire", "geohazard", "earthquake", "manual"],
    )
    send.set_defaults(fn=cmd_send)

    db = sub.add_parser("db", help="database")
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply migrations").set_defaults(fn=cmd_db)

    cap = sub.add_parser("cap", help="feed messages (CAP, national dialect, JSON)")
    csub = cap.add_subparsers(dest="cap_command", required=True)
    cc = csub.add_parser("check", help="the parser's verdict on files (directories: their *.xml, *.json)")
    cc.add_argument("paths", nargs="+", type=Path)
    cc.add_argument("--json", action="store_true", help="one JSON object per file")
    cc.add_argument("--trust", type=Path, default=None, help="trust file (default: settings.trust_file)")
    cc.add_argument("--no-trust", action="store_true", help="do not verify signatures")
    cc.add_argument("--source", default=None, help='feed topic for JSON (default: by its "kind")')
    cc.set_defaults(fn=cmd_cap)

    from warnengine.cli.api import add_commands as api_commands

    api_commands(sub, _settings)  # `warnengine api`, `warnengine user add|token|list`
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.fn(args))
