"""The dispatcher API (aiohttp, OpenAPI 3.1) and the offline web console it serves."""
