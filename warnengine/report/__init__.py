"""Closure reports (闭环): what a warning reached, how fast, and who it did not reach and why."""
