"""XML-DSig (enveloped) verification of feed messages against the sender's pinned certificates.

Policy (see docs/feeds.md, "Signatures"):
- no trust store given: nothing is checked (NOT_CHECKED);
- unsigned: rejected (MISSING) when the sender's entry has require_signature, else UNSIGNED;
- signed, sender not in the trust store: accepted but UNVERIFIED (the verdict says so; the stage logs it);
- signed, sender configured: the first <ds:Signature> child of the root must have exactly one Reference
  with URI="" (the whole message) and verify against one of the sender's certificates, else INVALID.
- certificate validity is checked at the message's own `sent` time: pinned certificates of old but
  legitimately signed messages (a re-sent or replayed archive) still verify, and the sender cannot pick
  that time without the key. Staleness is the warning store's business (expires), not the signature's.
- SHA-1 (rsa-sha1 signatures, sha1 digests) is refused unless the sender's entry has allow_sha1.

Whitespace: some signers sign the message without whitespace between elements and then pretty-print it
(the WMO CAP validator strips blank text before verifying for this reason; Burkina Faso's sample needs it).
So a message that fails as received is verified once more with whitespace-only text nodes removed. CAP has
no mixed content, so the fields we read are the same in both readings: the tolerance cannot change a
warning's meaning.

Parsing: the defusedxml pre-check has already refused DTDs, entities and external references; lxml is
then run with entity resolution, DTD loading and network access off as a second line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.etree.ElementTree import Element

from lxml import etree

# Imported from the defining modules: signxml's __init__ re-exports without __all__ (mypy --strict).
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.verifier import SignatureConfiguration, XMLVerifier

from warnengine.normalise.common import parse_xml, shorten
from warnengine.normalise.errors import FeedError
from warnengine.normalise.trust import TrustedSender, TrustStore

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_DS_SIGNATURE = f"{{{DS_NS}}}Signature"
_NS = {"ds": DS_NS}
_LINE_SUFFIX = re.compile(r", line \d+$")

# signxml's defaults exclude every SHA-1 algorithm; a legacy sender may be allowed them explicitly.
_STRICT = SignatureConfiguration(location="./", expect_references=1)
_WITH_SHA1 = replace(
    _STRICT,
    signature_methods=frozenset(SignatureMethod),
    digest_algorithms=frozenset(DigestAlgorithm),
)


class SignatureStatus(StrEnum):
    VERIFIED = "verified"  # signed and verified against a pinned certificate of the sender
    UNVERIFIED = "unverified"  # signed, but the sender has no trust entry: accepted, not checked
    UNSIGNED = "unsigned"  # not signed, and the sender does not have to sign
    NOT_CHECKED = "not_checked"  # no trust store was given
    MISSING = "missing"  # not signed, but the sender's entry requires it → rejected
    INVALID = "invalid"  # signed, and the signature does not verify → rejected


_REJECTED = {SignatureStatus.MISSING: "signature_missing", SignatureStatus.INVALID: "signature_invalid"}


@dataclass(frozen=True)
class SignatureVerdict:
    status: SignatureStatus
    sender: str
    detail: str = ""
    signer: str = ""  # subject of the certificate that verified, when VERIFIED
    whitespace_normalised: bool = False  # verified only after removing whitespace-only text

    @property
    def accepted(self) -> bool:
        return self.status not in _REJECTED

    def raise_if_rejected(self) -> None:
        if self.status is SignatureStatus.MISSING:
            raise FeedError("signature_missing", self.detail)
        if self.status is SignatureStatus.INVALID:
            raise FeedError("signature_invalid", self.detail)


def is_signed(root: Element) -> bool:
    """An enveloped signature is a <ds:Signature> child of the root (CAP's trailing `any` slot)."""
    return root.find(_DS_SIGNATURE) is not None


def verify_signature(
    raw: bytes, *, sender: str, sent: datetime, trust: TrustStore | None
) -> SignatureVerdict:
    """Verify one raw XML message on its own (e.g. for a stage that wants to log the verdict).

    Never raises: a message that is not safe, well-formed XML is INVALID when signed-ness cannot be told.
    """
    body = raw.strip().removeprefix(b"\xef\xbb\xbf").lstrip()
    try:
        root = parse_xml(body)
    except FeedError as exc:
        return SignatureVerdict(SignatureStatus.INVALID, sender, f"not verifiable: {exc}")
    return check_signature(body, signed=is_signed(root), sender=sender, sent=sent, trust=trust)


def check_signature(
    body: bytes, *, signed: bool, sender: str, sent: datetime, trust: TrustStore | None
) -> SignatureVerdict:
    """The policy above, for a message whose XML already passed the defusedxml pre-check."""
    if trust is None:
        return SignatureVerdict(SignatureStatus.NOT_CHECKED, sender)
    entry = trust.get(sender)
    if not signed:
        if entry is not None and entry.require_signature:
            detail = f"sender {shorten(sender)!r} must sign its messages; this one carries no signature"
            return SignatureVerdict(SignatureStatus.MISSING, sender, detail)
        return SignatureVerdict(SignatureStatus.UNSIGNED, sender)
    if entry is None:
        detail = f"sender {shorten(sender)!r} has no trust entry: signature present but not checked"
        return SignatureVerdict(SignatureStatus.UNVERIFIED, sender, detail)
    return _verify(body, entry, sent)


def _verify(body: bytes, entry: TrustedSender, sent: datetime) -> SignatureVerdict:
    config = replace(_WITH_SHA1 if entry.allow_sha1 else _STRICT, verification_time=sent)
    errors: list[str] = []
    for normalise in (False, True):
        parser = _parser(remove_blank_text=normalise)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            return SignatureVerdict(SignatureStatus.INVALID, entry.sender, f"lxml: {exc}")
        scope_error = _whole_message_error(root)
        if scope_error:
            return SignatureVerdict(SignatureStatus.INVALID, entry.sender, scope_error)
        for cert in entry.certificates:
            try:
                XMLVerifier().verify(root, x509_cert=cert, parser=parser, expect_config=config)
            # signxml, lxml (schema DocumentInvalid), cryptography and base64 raise many unrelated types;
            # whatever the cause, a signature that cannot be verified is a rejection, never a crash.
            except Exception as exc:
                # lxml appends ", line N", which differs between the two readings of the same error.
                message = _LINE_SUFFIX.sub("", f"{type(exc).__name__}: {exc}").rstrip(": ")
                if message not in errors:
                    errors.append(message)
                continue
            return SignatureVerdict(
                SignatureStatus.VERIFIED,
                entry.sender,
                signer=cert.subject.rfc4514_string(),
                whitespace_normalised=normalise,
            )
    return SignatureVerdict(SignatureStatus.INVALID, entry.sender, shorten("; ".join(errors), 300))


def _parser(*, remove_blank_text: bool) -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
    )


def _whole_message_error(root: Any) -> str:
    """Refuse signatures over part of the message: the rest could be changed at will."""
    signature = root.find("ds:Signature", _NS)
    if signature is None:  # cannot happen after is_signed(); kept so the checks stand alone
        return "no <Signature> child of the root element"
    references = signature.findall("ds:SignedInfo/ds:Reference", _NS)
    if len(references) != 1 or references[0].get("URI") != "":
        uris = [r.get("URI") for r in references]
        return f'the signature must have one Reference with URI="" (the whole message); it has {uris!r}'
    return ""
