"""`warnengine speaker` with a wrong password: one clear line and a non-zero exit, no traceback, no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.transport.tls_broker import SecureBroker


def test_speaker_with_a_wrong_password_says_so(secure: SecureBroker, tmp_path: Path) -> None:
    wrong = "not-the-pw-7781"
    env = {**os.environ, "WARNENGINE_SPEAKER_PASSWORD": wrong, "WARNENGINE_DATA_DIR": str(tmp_path)}
    args = ["--device", "spk-a", "--village", "530102001001", "--protocol", "5", "--journal", "none"]
    url = f"mqtts://127.0.0.1:{secure.tls}"
    key = tmp_path / "engine.key.pub"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = Ed25519PrivateKey.generate().public_key()
    key.write_bytes(
        pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cmd = [
        sys.executable,
        "-m",
        "warnengine",
        "speaker",
        *args,
        "--mqtt-url",
        url,
        "--tls-ca",
        str(secure.ca.cert),
    ]
    done = subprocess.run(
        [*cmd, "--public-key", str(key)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "refused the connection" in done.stderr and "user 'spk-a'" in done.stderr
    assert "Traceback" not in done.stderr and wrong not in done.stderr + done.stdout
