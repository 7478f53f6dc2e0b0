"""`{{ event|change_lines }}`: an audit event's changes as lines a reader can trust.

Most services record `{field: [old, new]}`; some record facts instead (`{"fields": ["tax_id"]}`
for an unmasked view, `{"purpose": "surveys"}` for a consent, counts for an erasure). A pair is
shown as "old → new", anything else as its value, never cut to its first characters.
"""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

EMPTY = "∅"


def _text(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@register.filter
def change_lines(changes: Any) -> list[tuple[str, str, str | None]]:
    """[(field, old or value, new or None)]: `new` is None when the entry is not an old/new pair."""
    if not isinstance(changes, dict):
        return [("", _text(changes), None)]
    lines: list[tuple[str, str, str | None]] = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2 and field not in ("fields", "sections"):
            lines.append((field, _text(value[0]), _text(value[1])))
        else:
            lines.append((field, _text(value), None))
    return lines
