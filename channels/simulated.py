"""A simulated provider (design decision 22): the adapter `up` puts in a people channel's pool when no real
provider has credentials. It hands each message to a simulated population (warnengine/sim) instead of a
gateway; the population's receipts and replies come back the way a provider's webhooks put them on Kafka.
Never built from config/channels.yaml, so it can never sit beside, or stand in for, a real provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from channels.base import Outgoing, SendResult
from warnengine.model import Channel

# The population's side of a send: one result per message, in order (warnengine.sim.world.World.send_people).
Deliver = Callable[[Channel, Sequence[Outgoing]], Awaitable[list[SendResult]]]

PREFIX = "sim-"  # every simulated provider's name starts with it: metrics, logs and the record say so


class SimulatedChannel:
    """One channel kind's simulated provider: unlimited rate, no credentials, labelled `sim-<kind>`."""

    batch_size = 500
    rate_per_s: float | None = None

    def __init__(self, kind: Channel, deliver: Deliver) -> None:
        self.kind = kind
        self.name = f"{PREFIX}{kind.value}"
        self._deliver = deliver

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        results = await self._deliver(self.kind, batch)
        # A provider reference per accepted message, as a gateway returns one (receipts name the delivery).
        return [
            r if not r.ok else SendResult(r.delivery_id, True, provider_ref=f"{self.name}:{r.delivery_id}")
            for r in results
        ]
