"""Observability: structlog configuration and the Prometheus metric set."""
