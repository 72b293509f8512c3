"""Channel adapters: one file per provider behind the interface in `channels.base`.

Third-party adapters register under the entry-point group `warnengine.channels`; `channels.registry`
loads them. The engine talks to channels only through this interface.
"""

from channels.base import ChannelAdapter, Outgoing, SendResult

__all__ = ["ChannelAdapter", "Outgoing", "SendResult"]
