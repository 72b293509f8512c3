"""Tencent Cloud SMS templates: the approved text and the variables each warning fills in.

Mainland SMS goes out only through a template approved in the SMS console, and Tencent's review rules
(正文模板审核标准, https://cloud.tencent.com/document/product/382/39023) exclude the obvious "{1}" that
would carry any text: "不支持全变量模板" (no all-variable template); variables are `{1}`, `{2}`… numbered
from 1 without gaps; two variables may not be adjacent ("模板中的两个变量不能相邻"); no links in a
variable; each variable's value is limited (12 characters for a personally certified account, "单个模板变量
字符数超过12个" is send error 1036 / InvalidParameterValue.TemplateParameterLengthLimit; an enterprise
account's limit is shown in the console); the whole message, signature and values included, is at most 500
characters; 【】 are reserved for the signature.

So the adapter sends a warning as a few short values (the configured `template_params`, each one of
`area`, `title`, `severity`, `hazard`, `instruction`) into a template such as
"{1}发布{2}，请{3}。收到请回复1。", and this module validates that template and its limits at start.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

SOURCES = frozenset({"area", "title", "severity", "hazard", "instruction"})
MAX_MESSAGE = 500  # characters, signature and variable values included
_VAR = re.compile(r"\{(\d+)\}")
_URL = re.compile(r"(https?://|www\.)\S*|\b[\w-]+\.(com|cn|net|org)\b", re.IGNORECASE)
_SEVERITY = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
_HAZARD = {
    "flood": "洪水",
    "flash_flood": "山洪",
    "rainstorm": "暴雨",
    "typhoon": "台风",
    "landslide": "地质灾害",
    "earthquake": "地震",
    "fire": "火灾",
    "drought": "干旱",
    "heat": "高温",
    "cold": "寒潮",
    "wind": "大风",
}


class TemplateError(ValueError):
    """The configured template cannot be approved or does not match its parameters."""


def validate(template: str, params: Sequence[str], variable_max: int) -> None:
    """Raise TemplateError naming the first rule `template` + `params` break."""
    numbers = [int(n) for n in _VAR.findall(template)]
    if not numbers:
        raise TemplateError("template has no variables: every warning would read the same")
    if sorted(set(numbers)) != list(range(1, max(numbers) + 1)):
        raise TemplateError(
            f"template variables must be {{1}}..{{n}} without gaps, got {sorted(set(numbers))}"
        )
    if not _VAR.sub("", template).strip(" ，。,.:：;；!！"):
        raise TemplateError("all-variable template: Tencent does not approve one (不支持全变量模板)")
    if re.search(r"\}\s*\{", template):
        raise TemplateError("two variables are adjacent: Tencent does not approve that (变量不能相邻)")
    if "【" in template or "】" in template:
        raise TemplateError("【】 are reserved for the signature")
    if len(params) != max(numbers):
        raise TemplateError(f"template has {max(numbers)} variables but template_params names {len(params)}")
    unknown = [p for p in params if p not in SOURCES]
    if unknown:
        raise TemplateError(f"unknown template_params {unknown} (have {sorted(SOURCES)})")
    if not 1 <= variable_max <= MAX_MESSAGE:
        raise TemplateError(f"variable_max must be 1..{MAX_MESSAGE}, got {variable_max}")


def clean(value: str, limit: int) -> str:
    """One variable's value: no control characters, links or 【】, at most `limit` characters."""
    value = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    value = _URL.sub("", value).replace("【", "").replace("】", "")
    value = " ".join(value.split())
    return value[:limit].rstrip("，,、 ") or "-"


def values(
    body: Mapping[str, Any], params: Sequence[str], variable_max: int, area: str
) -> tuple[str, ...] | None:
    """The template's values for one composed SMS body, or None when it has no text."""
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    title = body.get("title") if isinstance(body.get("title"), str) else ""
    first = re.split(r"[。！!；;\n]", text.strip(), maxsplit=1)[0]
    source = {
        "area": area,
        "title": str(title) or first,
        "severity": _SEVERITY.get(str(body.get("severity")), "") + "预警",
        "hazard": _HAZARD.get(str(body.get("hazard")), "灾害"),
        "instruction": first,
    }
    return tuple(clean(source[p], variable_max) for p in params)


def render(template: str, vals: Sequence[str]) -> str:
    return _VAR.sub(lambda m: vals[int(m.group(1)) - 1], template)
