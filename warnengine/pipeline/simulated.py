"""Simulated providers under `up` (design decision 22): with no real people-channel credentials and
`simulated_providers` on, a worker's SMS, voice, WeChat and app pools hold `channels.simulated` adapters
that deliver into a simulated population (`warnengine.sim.world.World.live`, the scenario file's fates).
The population answers on the engine clock (accelerated by `clock_speed`); its receipts, replies and app
acknowledgements go onto the same Kafka topics the provider webhooks and the app endpoint produce to, so
the ack stage, escalation, visits, 叫应 and the closure report run exactly as with real providers.
"""

from __future__ import annotations

import structlog

from channels.simulated import SimulatedChannel
from warnengine.clock import Clock
from warnengine.dispatch.breaker import CircuitBreaker
from warnengine.dispatch.people import PEOPLE
from warnengine.dispatch.pool import Provider, ProviderPool
from warnengine.dispatch.sender import Senders
from warnengine.obs import metrics
from warnengine.resolve.directory import Directory
from warnengine.settings import Settings
from warnengine.sim.scenario import load_scenario
from warnengine.sim.world import World

log = structlog.get_logger("warnengine.simulated")

BANNER = "模拟 / simulated providers"


def simulated_senders(s: Settings, directory: Directory, clock: Clock) -> tuple[Senders, World]:
    """The people channels' pools, each with one simulated provider, and the population behind them."""
    sc = load_scenario(s.sim_scenario)  # a bad file stops the worker with the field named
    world = World.live(sc, directory, clock)
    pools = {  # on the engine clock, as every pool (expiry, breaker): the worker's clock may be accelerated
        ch: ProviderPool(
            ch,
            [Provider(SimulatedChannel(ch, world.send_people), None, CircuitBreaker(clock=clock))],
            clock=clock,
        )
        for ch in PEOPLE
    }
    metrics.SIMULATED_PROVIDERS.set(1)
    log.warning(
        "simulated_providers",
        message=f"{BANNER}: 无真实短信/语音/微信/推送凭据，消息送往模拟人群 / no real provider credentials: "
        "messages go to a simulated population",
        scenario=str(s.sim_scenario),
        clock_speed=s.clock_speed,
        people=len(world.delay),
        channels=[c.value for c in PEOPLE],
    )
    return Senders(pools), world
