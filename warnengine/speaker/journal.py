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
        self.failing: str | None = None  # why the last write failed, while it does

    def load(self, now: float) -> Remembered:
        """What the terminal accepted before, minus what has expired since."""
        out = Remembered()
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        except OSError as e:  # unreadable: start without it, and say so (replays of before are not known)
            log.error("journal_unreadable", path=str(self.path), error=str(e))
            self.failing = str(e)
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
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:  # the old file stands, whole; the next compaction tries again
            log.error("journal_compaction_failed", path=str(self.path), error=str(e))
        self._appended = 0

    def _append(self, rec: dict[str, object]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())  # on disk before the command is acted on
        except OSError as e:
            # A full or read-only disk must not silence a genuine warning: the nonce is still held in
            # memory (replays refused until a restart), and the fault is logged loudly until it clears.
            if self.failing is None:
                log.error(
                    "journal_unwritable",
                    path=str(self.path),
                    error=str(e),
                    effect="replays refused until restart only",
                )
            self.failing = str(e)
            return
        if self.failing is not None:
            log.info("journal_writable_again", path=str(self.path))
            self.failing = None
        self._appended += 1
