"""JSON Schema `pattern`s read as ECMA-262 regular expressions, as the spec and every editor do.

Python's `re` reads the same text differently: `$` also matches before a final newline (so
`name: "acme\\n"` passed `^[a-z0-9]...$`), `\\s` takes U+0085 and U+001C-U+001F but not U+FEFF,
`.` matches `\\r`, and `\\d`/`\\w`/`\\b` are Unicode-wide. Validating with Python's reading would
let stackgen accept what the user's editor (yaml-language-server, on ajv) flags, and the other
way round; so each pattern is rewritten into a Python regex with the ECMA meaning.
"""

from __future__ import annotations

import functools
import re

_SPACE = "\\t\\n\\v\\f\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_CLASSES = {"s": _SPACE, "d": "0-9", "w": "A-Za-z0-9_"}
_ANY_BUT_LINE_END = "[^\\n\\r\\u2028\\u2029]"


class UnsupportedPattern(ValueError):
    """A construct whose ECMA meaning this translation does not carry over (none in the schema)."""


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The Python regex that matches exactly what ECMA-262 (no flags) matches for `pattern`."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "\\" and index < len(pattern):
            escaped = pattern[index]
            index += 1
            out.append(_escape(escaped, in_class, pattern))
        elif in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            if pattern[index:index + 1] == "]" or pattern[index:index + 2] == "^]":
                raise UnsupportedPattern(f"an empty class `[]` or `[^]` means something else in Python: {pattern!r}")
            in_class = True
            out.append(char)
        elif char == "$":
            out.append("\\Z")  # the end of the string only
        elif char == ".":
            out.append(_ANY_BUT_LINE_END)
        elif char == "(" and pattern[index:index + 2] == "?<" and pattern[index + 2:index + 3] not in ("=", "!"):
            raise UnsupportedPattern(f"named groups are written differently in Python: {pattern!r}")
        else:
            out.append(char)
    # ASCII: \b and \B then see ECMA's word characters; \s, \d, \w were spelt out above.
    return re.compile("".join(out), re.ASCII)


def _escape(escaped: str, in_class: bool, pattern: str) -> str:
    body = _CLASSES.get(escaped.lower())
    if body is None:
        return "\\" + escaped
    if escaped.islower():
        return body if in_class else f"[{body}]"
    if in_class:
        raise UnsupportedPattern(f"a negated class escape `\\{escaped}` inside `[...]` has no Python spelling: {pattern!r}")
    return f"[^{body}]"
