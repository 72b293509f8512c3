"""Transports shared by channels and terminals (MQTT)."""
