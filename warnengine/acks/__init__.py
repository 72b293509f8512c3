"""Ack tracking: apply acknowledgements to delivery state, forward-only and idempotent."""
