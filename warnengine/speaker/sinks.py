"""Where the sound goes: nothing (NullSink), a record for tests (RecordingSink), or espeak-ng (EspeakSink).

A hardware integrator writes one more class with an async, cancellable `play(item, volume)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from warnengine.speaker.playback import PlayItem, Sink


@dataclass
class NullSink:
    """Pretends to play: each repeat takes `seconds`."""

    seconds: float = 0.0

    async def play(self, item: PlayItem, volume: int) -> None:
        await asyncio.sleep(self.seconds)


@dataclass
class RecordingSink:
    """Records what played and what was cut off, in memory and optionally as JSON lines in a file."""

    seconds: float = 0.0
    path: Path | None = None
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (event, cmd_id, volume)

    async def play(self, item: PlayItem, volume: int) -> None:
        self._note("start", item, volume)
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self._note("cut", item, volume)
            raise
        self._note("end", item, volume)

    def _note(self, event: str, item: PlayItem, volume: int) -> None:
        self.log.append((event, item.cmd_id, volume))
        if self.path:
            line = {"event": event, "cmd_id": item.cmd_id, "priority": item.priority, "volume": volume}
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({**line, "t": round(time.time(), 3)}, ensure_ascii=False) + "\n")

    def ended(self) -> list[str]:
        return [c for e, c, _ in self.log if e == "end"]


class EspeakSink:
    """Speaks the command text with espeak-ng (Mandarin voice); killed at once on preemption or stop."""

    def __init__(self, voice: str = "cmn", binary: str | None = None) -> None:
        found = binary or shutil.which("espeak-ng") or shutil.which("espeak")
        if not found:
            raise RuntimeError("espeak-ng is not on PATH (apt-get install espeak-ng)")
        self.binary, self.voice = found, voice

    async def play(self, item: PlayItem, volume: int) -> None:
        # espeak-ng amplitude is 0-200 (100 normal); the command's 0-100 maps onto 0-200.
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-v",
            self.voice,
            "-a",
            str(volume * 2),
            "--",
            item.text or item.audio_url or "",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if code != 0:
            raise RuntimeError(f"espeak-ng exited with {code}")


def make_sink(spec: str, seconds: float = 0.0) -> Sink:
    """`null`, `record:FILE` or `espeak` (the --sink flag)."""
    if spec == "null":
        return NullSink(seconds)
    if spec.startswith("record:"):
        return RecordingSink(seconds, Path(spec.removeprefix("record:")))
    if spec == "espeak":
        return EspeakSink()
    raise ValueError(f"unknown sink {spec!r}: use null, record:FILE or espeak")
