from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.dispatch.compose import DRILL_PREFIX, speaker_command
from warnengine.model import Hazard, HazardWarning, MsgType, Severity, SpeakerCommand, Status
from warnengine.signing import Signer, Verifier


def _w(severity: Severity, status: Status = Status.ACTUAL) -> HazardWarning:
    return HazardWarning(
        warning_id="w-1",
        version=1,
        sender="s",
        identifier="i",
        sent=datetime.now(UTC),
        msg_type=MsgType.ALERT,
        status=status,
        hazard=Hazard.FLOOD,
        severity=severity,
        event="山洪",
        headline="山洪红色预警",
        instruction="立即转移",
    )


def test_command_matches_contract_and_verifies() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    cmd = speaker_command(_w(Severity.RED), "d-1", 1000.0, 4600.0, signer)
    SpeakerCommand.model_validate(cmd)
    assert cmd["id"] == "d-1" and cmd["priority"] == 9 and cmd["action"] == "play"
    assert Verifier([signer.public]).verify(cmd) is None
    assert "山洪红色预警" in cmd["text"] and "立即转移" in cmd["text"]
    assert speaker_command(_w(Severity.BLUE), "d-2", 0, 1, signer)["priority"] < cmd["priority"]
    assert cmd["nonce"] != speaker_command(_w(Severity.RED), "d-1", 1000.0, 4600.0, signer)["nonce"]


def test_drill_is_announced_as_drill() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    cmd = speaker_command(_w(Severity.RED, Status.EXERCISE), "d-1", 0, 10, signer)
    assert cmd["text"].startswith(DRILL_PREFIX)


def test_cancel_becomes_stop() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    w = _w(Severity.RED).model_copy(update={"msg_type": MsgType.CANCEL})
    cmd = speaker_command(w, "d-9", 0, 10, signer, device="spk-1", village="410526100201")
    assert (cmd["action"], cmd["warning_id"], cmd["text"]) == ("stop", "w-1", "")
    assert (cmd["device"], cmd["village"]) == ("spk-1", "410526100201")
    assert Verifier([signer.public]).verify(cmd) is None
