"""What Tencent Cloud SMS enforces on a SendSms request's template and numbers, for the strict fake.

- Templates (正文模板审核标准, https://cloud.tencent.com/document/product/382/39023): only an approved
  TemplateId sends (FailedOperation.TemplateIncorrectOrUnapproved); an all-variable template is never
  approved (the fake refuses to register one); the values must match the template's variables
  (FailedOperation.TemplateParamSetNotMatchApprovedTemplate); each value at most `variable_max` characters
  (12 for a personally certified account: InvalidParameterValue.TemplateParameterLengthLimit, send error
  1036 in https://cloud.tencent.com/document/product/382/3771); no link in a value
  (InvalidParameterValue.ProhibitedUseUrlInTemplateParameter, error 1048); the whole message at most 500
  characters (InvalidParameterValue.ContentLengthLimit).
- Send error codes (https://cloud.tencent.com/document/api/382/59177 and the SDK's SendSms error list): a
  number on the do-not-disturb list is FailedOperation.PhoneNumberOnBlacklist; a number's daily limit
  LimitExceeded.PhoneNumberDailyLimit (console default: 10 a day); the application's daily limit
  LimitExceeded.AppDailyLimit. Where the docs do not say whether a limit is per number or per request,
  the fake answers the application limit for the whole request (the strictest).
"""

from __future__ import annotations

import re

VAR = re.compile(r"\{(\d+)\}")
_URL = re.compile(r"https?://|www\.|\.(com|cn|net|org)\b", re.IGNORECASE)


def approvable(content: str) -> bool:
    """Would Tencent's review approve this template text? (variables, not all-variable, none adjacent)"""
    return (
        bool(VAR.search(content))
        and bool(VAR.sub("", content).strip())
        and not re.search(r"\}\s*\{", content)
    )


def template_error(content: str, params: list[str], variable_max: int, sign: str) -> str | None:
    """The request-level error code for these TemplateParamSet values, or None when they fit."""
    wanted = max((int(n) for n in VAR.findall(content)), default=0)
    if len(params) != wanted:
        return "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    if any(len(p) > variable_max for p in params):
        return "InvalidParameterValue.TemplateParameterLengthLimit"
    if any(_URL.search(p) for p in params):
        return "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"
    text = VAR.sub(lambda m: params[int(m.group(1)) - 1], content)
    if len(text) + len(sign) + 2 > 500:
        return "InvalidParameterValue.ContentLengthLimit"
    return None
