"""Text that cannot be stored: the one rule every piece of incoming text obeys.

PostgreSQL refuses the NUL character in text, and a UTF-16 surrogate on its own
(``"\\ud800"`` in JSON) is no character at all. Bytes that are not UTF-8 are
decoded with ``surrogateescape``, which turns each bad byte into such a lone
surrogate, so one check finds all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

WHY_UNSTORABLE = "a NUL character, a lone UTF-16 surrogate or bytes that are not UTF-8"


def unstorable_message(where: str) -> str:
    return f"{where} contains a character that cannot be stored ({WHY_UNSTORABLE})."


def decode_lenient(raw: bytes) -> str:
    """``raw`` as UTF-8, each byte that is not UTF-8 kept as a lone surrogate."""
    return raw.decode("utf-8", "surrogateescape")


def is_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def unstorable_paths(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths (keys and list indices) in decoded JSON where unstorable text sits."""
    if isinstance(value, str):
        if is_unstorable(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from unstorable_paths(item, (*path, key))
            if is_unstorable(key):
                yield (*path, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_paths(item, (*path, str(index)))


def printable(text: str) -> str:
    """``text`` safe to send back: unstorable characters shown as escapes."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def field_name(path: tuple[str, ...]) -> str:
    """A body path as the error list names fields: dotted, shown safely."""
    return ".".join(printable(part) for part in path)
