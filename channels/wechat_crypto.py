"""WeChat / WeCom callback signatures and message encryption (the WXBizMsgCrypt scheme), with `cryptography`.

- Plain OA signature: `sha1("".join(sorted([token, timestamp, nonce])))`.
- Encrypted mode (WeCom always, OA "安全模式"): `msg_signature = sha1(sorted([token, timestamp, nonce,
  encrypt]))`; `encrypt` is base64 of AES-256-CBC(key = base64(EncodingAESKey + "="), IV = key[:16]) over
  `random(16) + len(msg) as 4 bytes big-endian + msg + receiveid`, PKCS#7-padded to 32-byte blocks.
  `receiveid` is the CorpID (WeCom) or AppID (OA) and must match ours, so a payload encrypted for another
  account is refused even with the right key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


class CryptError(Exception):
    """Signature mismatch or an undecryptable payload."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def verify(expected: str | None, *parts: str) -> bool:
    return bool(expected) and hmac.compare_digest(signature(*parts), str(expected).lower())


class WXBizMsgCrypt:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except ValueError as e:
            raise ValueError("EncodingAESKey must be 43 base64 characters") from e
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.token, self.key, self.receive_id = token, key, receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, msg: str, nonce16: bytes | None = None) -> str:
        raw = msg.encode()
        plain = (nonce16 or os.urandom(16)) + struct.pack(">I", len(raw)) + raw + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain + bytes([pad]) * pad) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except ValueError as e:
            raise CryptError("payload is not base64") from e
        if not data or len(data) % 16:
            raise CryptError("payload is not whole AES blocks")
        dec = self._cipher().decryptor()
        plain = dec.update(data) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptError("bad padding (wrong key?)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptError("payload too short")
        (n,) = struct.unpack(">I", plain[16:20])
        msg, rid = plain[20 : 20 + n], plain[20 + n :]
        if len(msg) != n:
            raise CryptError("length field exceeds payload")
        if rid.decode(errors="replace") != self.receive_id:
            raise CryptError("payload is for another receiver id")
        try:
            return msg.decode()
        except UnicodeDecodeError as e:
            raise CryptError("message is not UTF-8") from e

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return signature(self.token, timestamp, nonce, encrypted)
