"""Dispatch: turn a village task into channel deliveries, record them, send them once per attempt."""
