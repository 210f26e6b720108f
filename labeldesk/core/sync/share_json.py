"""JSON read from the shared folder, where any member can write anything.

``json.loads`` of text nested deeper than the interpreter's recursion limit raises RecursionError,
not ValueError: one hand-made line of 200,000 ``[`` stopped every member's sync round. Here such
text is a ValueError like any other malformed JSON, and so is anything nested deeper than
``MAX_DEPTH`` (no op, head, key or manifest comes near it). The fixed limit keeps replicas in
agreement: where the parser's own limit falls depends on how deep the call stack is at the time.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads`` for text from the share: ValueError if malformed or nested too deep."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    check_depth(value, data)
    return value


def check_depth(value: Any, text: str | bytes | bytearray) -> None:
    """ValueError if ``value`` (decoded from ``text``) nests lists and objects deeper than MAX_DEPTH.
    Text with fewer opening brackets than that cannot: the common case costs two ``count``s."""
    if isinstance(text, str):
        opened = text.count("[") + text.count("{")
    else:
        opened = text.count(b"[") + text.count(b"{")
    if opened <= MAX_DEPTH:
        return
    level = [(value, 1)]
    while level:
        item, depth = level.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            level.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            level.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
