"""The one exception the normaliser raises; its `reason` is a stable code for dead-letter metrics."""

from __future__ import annotations

from typing import Literal

from warnengine.errors import BadInput

Reason = Literal[
    "not_xml_or_json",  # neither '<' nor '{' after BOM/whitespace, or empty
    "too_large",  # above the size limit: refused unread (same reason as the stage's own guard)
    "xml_malformed",  # not well-formed XML (truncated, bad encoding, ...)
    "xml_forbidden_construct",  # DTD, entity declaration or external reference
    "unknown_dialect",  # well-formed XML, but not CAP 1.1/1.2 nor the national dialect
    "edxl_multiple_alerts",  # an EDXL-DE wrapper carrying more than one alert (one message, one warning)
    "schema_invalid",  # CAP 1.2 message rejected by the OASIS XSD
    "cap_rule_violation",  # CAP §3 rule the XSD cannot express (polygon, circle, time, references)
    "unsupported_msg_type",  # CAP Ack/Error or an unknown msgType
    "no_info",  # Alert/Update without <info>
    "unknown_severity",
    "bad_json",  # unparseable JSON, or not a JSON object
    "missing_field",
    "invalid_field",  # a present field with an unusable value
    "bad_time",
    "model_invalid",  # the normalised values broke a Warning invariant (a backstop)
    "not_a_warning",  # a valid feed reading below the warning threshold (e.g. forest-fire level 1-2)
    "signature_missing",  # the sender's trust entry requires an XML signature and there is none
    "signature_invalid",  # an XML signature that does not verify against the sender's certificates
    "config_error",  # the normaliser's own configuration (e.g. the meteo signal table) is unusable
]


class FeedError(BadInput):
    """A feed message that cannot become a HazardWarning. str(err) is "reason: detail"."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason: Reason = reason
