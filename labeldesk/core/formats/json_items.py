"""A JSON document whose big top-level lists are decoded one item at a time.

``loads(text, {"shapes": convert})`` gives what ``json.loads(text)`` gives, except that each item
of the top-level object's ``shapes`` list is handed to ``convert`` as soon as it is decoded and
the list holds what ``convert`` returns. An importer keeps only its compact form of each item
(a polygon's points as one float64 array instead of a list of lists of Python floats), so the
whole document never exists in its decoded form at once: a 74 MB labelme file of 100k shapes
decodes into ~0.6 GiB of Python lists and floats, its compact form into a fraction of that.

Errors are ``json.JSONDecodeError`` with the position in ``text``, as ``json.loads`` raises them.
"""
from __future__ import annotations

import json
from json.decoder import WHITESPACE, JSONDecodeError, scanstring
from typing import Any, Callable

_scan = json.JSONDecoder().scan_once
_ws = WHITESPACE.match


def loads(text: str, items: dict[str, Callable[[Any], Any]]) -> Any:
    """``json.loads(text)`` with the items of the top-level object's lists named in ``items``
    passed through their function as they are decoded (any other document: plain json.loads)."""
    i = _ws(text, 0).end()
    if not items or not text.startswith("{", i):
        return json.loads(text)
    out: dict[str, Any] = {}
    i = _ws(text, i + 1).end()
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            if not text.startswith('"', i):
                raise JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = scanstring(text, i + 1, True)
            i = _ws(text, i).end()
            if not text.startswith(":", i):
                raise JSONDecodeError("Expecting ':' delimiter", text, i)
            i = _ws(text, i + 1).end()
            convert = items.get(key)
            if convert is not None and text.startswith("[", i):
                value, i = _items(text, i + 1, convert)
            else:
                value, i = _value(text, i)
            out[key] = value
            i = _ws(text, i).end()
            if text.startswith(",", i):
                i = _ws(text, i + 1).end()
                continue
            if text.startswith("}", i):
                i += 1
                break
            raise JSONDecodeError("Expecting ',' delimiter", text, i)
    end = _ws(text, i).end()
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return out


def _value(text: str, i: int) -> tuple[Any, int]:
    try:
        return _scan(text, i)
    except StopIteration as err:
        raise JSONDecodeError("Expecting value", text, err.value) from None


def _items(text: str, i: int, convert: Callable[[Any], Any]) -> tuple[list[Any], int]:
    """The list that starts after the ``[`` at ``i - 1``, each item converted; its end."""
    out: list[Any] = []
    append = out.append
    i = _ws(text, i).end()
    if text.startswith("]", i):
        return out, i + 1
    while True:
        try:
            item, i = _scan(text, i)
        except StopIteration as err:
            raise JSONDecodeError("Expecting value", text, err.value) from None
        append(convert(item))
        c = text[i:i + 1]
        if c in " \t\n\r":
            i = _ws(text, i).end()
            c = text[i:i + 1]
        if c == ",":
            i = _ws(text, i + 1).end()
        elif c == "]":
            return out, i + 1
        else:
            raise JSONDecodeError("Expecting ',' delimiter", text, i)
