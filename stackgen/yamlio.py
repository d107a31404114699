"""Safe YAML reading and writing for the files stages produce and read back (overlays, renders,
goldens, CRDs, kustomizations).

Reading: libyaml's parser where present: renders and CRDs are megabytes, which pure-Python
PyYAML parses several times slower. stack.yaml itself is read by `load`, from its event stream.

Writing: `Emitter` writes block-style YAML byte for byte as `yaml.dump` would with the same
dumper, an order of magnitude faster on the trees stages write (plain dicts, lists and
scalars, the same keys and values over and over): PyYAML's cost is per node (a representer
call, a resolver pass, an emitter event), while the layout of block style is fixed. So the
structure is written here and each distinct scalar is rendered once by PyYAML itself and
remembered: quoting and escaping stay PyYAML's own decisions. Anything outside what this
handles exactly (aliases of a shared container, keys that are not short strings, scalars long
enough to wrap, other types, a top level that is not a container) is handed to `yaml.dump`
whole, so the output never depends on which path wrote it.
"""

from __future__ import annotations

import re
import typing as t

import yaml

LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str | bytes) -> t.Any:
    return yaml.load(text, Loader=LOADER)


def load_all(text: str | bytes) -> t.Iterator[t.Any]:
    return yaml.load_all(text, Loader=LOADER)


# A scalar whose rendered line comes near PyYAML's line width (4096) could be wrapped at a
# column that depends on its indentation: such documents go to PyYAML whole.
_LONGEST_LINE = 2048
# PyYAML writes a key longer than this (or spanning lines) as an explicit `? key`.
_LONGEST_SIMPLE_KEY = 128


# Line breaks other than "\n" that PyYAML may write as such inside a quoted scalar.
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


# Names, paths, URLs, image references and ARNs: none of their characters is an indicator for
# PyYAML's (or libyaml's) analysis of a block scalar, as long as it does not start with `@`,
# `:` or `-`, nor end with `:` (then `:` would be followed by the end), nor start with `...`.
_PLAIN = re.compile(r"[A-Za-z0-9./][A-Za-z0-9._/@:-]*")
_RESOLVER = yaml.resolver.Resolver()  # the one both dumpers use
_STR = "tag:yaml.org,2002:str"


_CONSTANTS: dict[int, object] = {}  # id -> the subtree, held here so that its id is never reused

_C = t.TypeVar("_C", dict[str, t.Any], list[t.Any])


def constant(subtree: _C) -> _C:
    """Declare a subtree that documents share and nothing ever changes (an Argo CD sync policy
    in 8,000 Applications): emitters write it once per indentation and copy the text after."""
    _CONSTANTS[id(subtree)] = subtree
    return subtree


def _containers(node: t.Any, into: list[int]) -> list[int]:
    if type(node) in (dict, list):
        into.append(id(node))
        for child in node.values() if type(node) is dict else node:
            _containers(child, into)
    return into


class _Unhandled(Exception):
    """The tree holds something only PyYAML's own path writes exactly."""


class Emitter:
    """`yaml.dump(body, Dumper=dumper, sort_keys=..., default_flow_style=False,
    allow_unicode=True, width=4096)`, fast; one instance per dumper, reused across documents
    (its memo of rendered scalars is what makes it fast)."""

    def __init__(self, dumper: type, *, sort_keys: bool) -> None:
        self._dumper = dumper
        self._sort_keys = sort_keys
        self._keys: dict[str, str] = {}
        # scalar -> (first line, continuation lines at indentation 0, without their base indent)
        self._values: dict[tuple[type, str], tuple[str, tuple[str, ...]]] = {}
        # one-line string -> ": " and its rendering: what a mapping writes after a key
        self._strings: dict[str, str] = {}
        # (id of a constant, indentation, inline) -> its text; the ids of the containers in it
        self._constants: dict[tuple[int, int, bool], str] = {}
        self._inside: dict[int, tuple[int, ...]] = {}

    def dump(self, body: t.Any) -> str:
        try:
            if type(body) not in (dict, list):
                raise _Unhandled
            if not body:
                return "{}\n" if type(body) is dict else "[]\n"
            out: list[str] = []
            seen: set[int] = set()
            if type(body) is dict:
                self._mapping(body, 0, False, out, seen)
            else:
                self._sequence(body, 0, False, out, seen)
            return "".join(out)
        except (_Unhandled, TypeError):  # TypeError: keys PyYAML cannot sort, which it then leaves unsorted
            return self._pyyaml(body)

    def _pyyaml(self, body: t.Any) -> str:
        text: str = yaml.dump(body, Dumper=self._dumper, sort_keys=self._sort_keys, default_flow_style=False,
                              allow_unicode=True, width=4096)
        return text

    def _mapping(self, node: dict[t.Any, t.Any], indent: int, inline: bool, out: list[str], seen: set[int]) -> None:
        if id(node) in seen:  # PyYAML writes a container met twice as an anchor and an alias
            raise _Unhandled
        seen.add(id(node))
        pad = " " * indent
        keys, strings = self._keys, self._strings
        items = sorted(node.items()) if self._sort_keys else node.items()
        for position, (key, value) in enumerate(items):
            if position or not inline:
                out.append(pad)
            rendered = keys.get(key) if type(key) is str else None
            out.append(rendered if rendered is not None else self._key(key))
            kind = type(value)
            if kind is str and (line := strings.get(value)) is not None:
                out.append(line)  # the common case, short-cut: a one-line string seen before
            elif kind is dict and value:
                out.append(":\n")
                if id(value) in _CONSTANTS:
                    self._constant(value, indent + 2, False, out, seen)
                else:
                    self._mapping(value, indent + 2, False, out, seen)
            elif kind is list and value:
                out.append(":\n")  # block sequences under a key are not indented
                if id(value) in _CONSTANTS:
                    self._constant(value, indent, False, out, seen)
                else:
                    self._sequence(value, indent, False, out, seen)
            else:
                out.append(": ")
                self._scalar(value, indent, out)

    def _sequence(self, node: list[t.Any], indent: int, inline: bool, out: list[str], seen: set[int]) -> None:
        if id(node) in seen:
            raise _Unhandled
        seen.add(id(node))
        pad = " " * indent
        for position, item in enumerate(node):
            if position or not inline:
                out.append(pad)
            out.append("- ")
            kind = type(item)
            if kind is dict and item or kind is list and item:
                if id(item) in _CONSTANTS:
                    self._constant(item, indent + 2, True, out, seen)
                elif kind is dict:
                    self._mapping(item, indent + 2, True, out, seen)
                else:
                    self._sequence(item, indent + 2, True, out, seen)
            else:
                self._scalar(item, indent, out)

    def _constant(self, node: dict[t.Any, t.Any] | list[t.Any], indent: int, inline: bool, out: list[str], seen: set[int]) -> None:
        write = self._mapping if type(node) is dict else self._sequence
        memo = (id(node), indent, inline)
        text = self._constants.get(memo)
        if text is None:
            part: list[str] = []
            write(node, indent, inline, part, set())  # type: ignore[arg-type]
            text = self._constants[memo] = "".join(part)
            self._inside[id(node)] = tuple(_containers(node, []))
        inside = self._inside[id(node)]
        if not seen.isdisjoint(inside):  # met twice in one document: an anchor, PyYAML's to write
            raise _Unhandled
        seen.update(inside)
        out.append(text)

    def _key(self, key: t.Any) -> str:
        if type(key) is not str:
            raise _Unhandled
        text = self._pyyaml({key: 0})
        rendered = text[: -len(": 0\n")]
        if not text.endswith(": 0\n") or "\n" in rendered or rendered.startswith("?") or len(rendered) > _LONGEST_SIMPLE_KEY + 2:
            raise _Unhandled
        self._keys[key] = rendered
        return rendered

    def _scalar(self, value: t.Any, indent: int, out: list[str]) -> None:
        kind = type(value)
        if kind is dict or kind is list:  # empty: written inline
            out.append("{}\n" if kind is dict else "[]\n")
            return
        if kind not in (str, int, bool, float, type(None)):
            raise _Unhandled
        memo = (kind, value if kind is str else repr(value))
        rendered = self._values.get(memo)
        if rendered is None:
            rendered = self._render(value)
            self._values[memo] = rendered
            if kind is str and not rendered[1]:
                self._strings[value] = ": " + rendered[0]
        first, rest = rendered
        out.append(first)
        if rest:
            # Continuation lines (literal blocks, quoted line breaks) sit two columns in from
            # their key or dash; empty lines carry no indentation.
            pad = " " * indent
            out.extend(f"{pad}{line}\n" if line else "\n" for line in rest)

    def _render(self, value: t.Any) -> tuple[str, tuple[str, ...]]:
        # Names, paths and URLs (most distinct strings of a fleet) are plain unless the resolver
        # would read them as something else (`yes`, `null`, `12:30`): no indicator, quote or
        # space in them for the emitter to weigh.
        if (type(value) is str and len(value) < _LONGEST_LINE and _PLAIN.fullmatch(value) and not value.endswith(":")
                and not value.startswith("...") and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR):  # type: ignore[no-untyped-call]
            return value + "\n", ()
        text = self._pyyaml({"k": value})
        # A literal block that keeps its final line breaks (`|+`) leaves the document open:
        # PyYAML ends it with `...` only where it is the last node, a layout this does not track.
        if not text.startswith("k: ") or not text.endswith("\n") or text.endswith("\n...\n"):
            raise _Unhandled
        if any(mark in text for mark in _OTHER_BREAKS):
            raise _Unhandled  # PyYAML breaks lines there too, and indents what follows
        lines = text[len("k: "):-1].split("\n")
        if any(len(line) > _LONGEST_LINE for line in lines):
            raise _Unhandled
        return lines[0] + "\n", tuple(lines[1:])


class LiteralDumper(yaml.CSafeDumper if hasattr(yaml, "CSafeDumper") else yaml.SafeDumper):  # type: ignore[misc]
    """Safe dumping where multi-line strings are literal blocks: patches and JSON config read
    best, and diff best, that way (what stackgen writes into overlays)."""


def _represent_str(dumper: yaml.BaseDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


LiteralDumper.add_representer(str, _represent_str)

OVERLAYS = Emitter(LiteralDumper, sort_keys=False)
"""Overlays: keys in the order compile chose, multi-line strings as literal blocks."""
GOLDENS = Emitter(yaml.SafeDumper, sort_keys=True)
"""Goldens: `yaml.safe_dump(body, sort_keys=True, allow_unicode=True, width=4096)`."""
