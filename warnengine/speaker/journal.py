"""The terminal's replay journal: the nonces and command ids it accepted, on disk, so a reboot does not
re-open the replay window. A captured command stays validly signed until it expires (hours for a
warning); a terminal that forgot its nonces on restart would play it again — the Dallas siren incident
was a replayed command. Integrators keep the same record in whatever storage their box has.

Format: JSON lines, appended and fsync'd before the terminal acts on a command (write-ahead):
`{"n": nonce, "e": expires_at}` for an accepted nonce, `{"c": cmd_id, "e": expires_at, "s": state}` for a
command and its latest state. Expired entries are dropped when the file is compacted (rewritten to a
temporary file and renamed over it, so a crash leaves the old or the new file, never half of one).
A line torn by a power cut is skipped on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger("warnengine.speaker")

COMPACT_EVERY = 2000  # lines appended before the file is rewritten without expired entries


@dataclass
class Remembered:
    nonces: dict[str, float] = field(default_factory=dict)  # nonce → command expiry
    expiry: dict[str, float] = field(default_factory=dict)  # command id → expiry
    done: dict[str, str] = field(default_factory=dict)  # command id → last state


class ReplayJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._appended = 0

    def load(self, now: float) -> Remembered:
        """What the terminal accepted before, minus what has expired since."""
        out = Remembered()
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        torn = 0
        for line in lines:
            try:
                rec = json.loads(line)
                expires = float(rec["e"])
            except (ValueError, KeyError, TypeError):
                torn += 1
                continue
            if expires <= now:
                continue
            if "n" in rec:
                out.nonces[str(rec["n"])] = expires
            elif "c" in rec:
                cmd_id = str(rec["c"])
                out.expiry[cmd_id] = expires
                out.done[cmd_id] = str(rec.get("s", "received"))
        if torn:
            log.warning("journal_lines_skipped", path=str(self.path), lines=torn)
        return out

    def nonce(self, nonce: str, expires_at: float) -> None:
        self._append({"n": nonce, "e": expires_at})

    def command(self, cmd_id: str, expires_at: float, state: str) -> None:
        self._append({"c": cmd_id, "e": expires_at, "s": state})

    def due_compaction(self) -> bool:
        return self._appended >= COMPACT_EVERY

    def compact(self, r: Remembered) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        lines = [json.dumps({"n": n, "e": e}) for n, e in r.nonces.items()]
        lines += [
            json.dumps({"c": c, "e": e, "s": r.done.get(c, "received")}, ensure_ascii=False)
            for c, e in r.expiry.items()
        ]
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._appended = 0

    def _append(self, rec: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())  # on disk before the command is acted on
        self._appended += 1
