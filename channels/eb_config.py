"""The EB platform adapter's identity and configuration from settings (WARNENGINE_EB_*)."""

from __future__ import annotations

from channels.eb_package import EbIdentity, EbPackager
from channels.eb_platform import DeadLetter, EbLedger, EbPlatformChannel, EbPlatformConfig
from warnengine.settings import Settings
from warnengine.signing.sm2 import Sm2Signer
from warnengine.signing.sm2_keys import load_sm2_public_key


class EbNotConfigured(ValueError):
    """A setting the EB platform needs is missing."""


def eb_identity(s: Settings) -> EbIdentity:
    if not s.eb_src_ebrid:
        raise EbNotConfigured("WARNENGINE_EB_SRC_EBRID (our 23-digit resource code) is not set")
    dest = s.eb_dest_ebrid or "0" * 23
    return EbIdentity(s.eb_src_ebrid, dest, s.eb_cert_issuer, s.eb_cert_sn, s.eb_report_url)


def county_of(ebrid: str) -> str:
    """The county of a resource code (EBRID): a level digit, then the 12-digit area code."""
    return ebrid[1:7] + "000000"


def eb_config(s: Settings, county_code: str | None = None) -> EbPlatformConfig:
    """`county_code`: default, the county of our own EBRID."""
    if not s.eb_platform_url:
        raise EbNotConfigured("WARNENGINE_EB_PLATFORM_URL is not set")
    if s.eb_platform_public_key_file is None:
        raise EbNotConfigured("WARNENGINE_EB_PLATFORM_PUBLIC_KEY_FILE (the platform's SM2 key) is not set")
    ident = eb_identity(s)
    return EbPlatformConfig(
        url=s.eb_platform_url,
        sender_name=s.eb_sender_name,
        sender_code=s.eb_sender_code or ident.src_ebrid,
        county_code=county_code or county_of(ident.src_ebrid),
        platform_public_key=load_sm2_public_key(s.eb_platform_public_key_file),
        platform_cert_sn=s.eb_platform_cert_sn,
        timeout_s=s.eb_timeout_s,
        attempts=s.eb_attempts,
    )


def eb_channel(
    s: Settings, ledger: EbLedger, signer: Sm2Signer, dead_letter: DeadLetter | None = None
) -> EbPlatformChannel:
    """The adapter, signing with the engine's SM2 key (WARNENGINE_SM2_SIGNING_KEY_FILE)."""
    packager = EbPackager(eb_identity(s), signer)
    return EbPlatformChannel(eb_config(s), packager, ledger, dead_letter=dead_letter)
