"""Bad input that a stage rejects: it goes to the dead letters with `reason`, never retried."""

from __future__ import annotations


class BadInput(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
