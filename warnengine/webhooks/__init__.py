"""Provider webhooks (aiohttp): callbacks and replies become `ChannelEvent`s handed to a callback.

Mount the routes on the API's aiohttp app, e.g. `app.add_routes(twilio_routes(token, on_events, ...))`.
"""

from warnengine.webhooks.twilio import OnEvents, is_ack, twilio_routes

__all__ = ["OnEvents", "is_ack", "twilio_routes"]
