"""load: stack.yaml bytes -> plain YAML tree plus a map from JSON path to (line, column).

The tree is built straight from PyYAML's event stream (libyaml's parser where present) with an
explicit stack, never by composing nodes: the composer recurses and libyaml's crashes on very
deep input, and events let every limit be checked before anything grows.
"""

from __future__ import annotations

import datetime
import re
import typing as t
from dataclasses import dataclass, field

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from stackgen import credentials
from stackgen.diagnostics import Diagnostic, JsonPath, json_path

MAX_BYTES = 8 * 1024 * 1024
"""Largest stack.yaml accepted: a 1,000-cluster fleet is well under 1 MiB."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences; stack.yaml needs 6."""
MAX_NODES = 2_000_000
"""Most scalars, mappings and sequences in one document."""
MAX_SCALAR_DIGITS = 64
"""Longest integer or float literal: larger numbers are never meaningful here."""

_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""Line breaks as YAML and libyaml's marks count them: every position uses the same lines."""
_YAML11_BOOLEAN_WORDS = {"y", "yes", "n", "no", "on", "off", "true", "false"}
_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

try:  # libyaml is ~8x faster on big fleets; its marks carry positions too
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML build
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class SourceMap:
    """Where each node of the tree starts (1-based), by JSON path; keys of mappings separately."""

    values: t.Mapping[JsonPath, Position] = field(default_factory=dict)
    keys: t.Mapping[JsonPath, Position] = field(default_factory=dict)

    def value_at(self, path: JsonPath) -> Position:
        """The node at `path`, or its nearest ancestor that exists."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_at(self, path: JsonPath) -> Position:
        """The key that introduces `path` in its mapping, else the node itself."""
        return self.keys.get(path) or self.value_at(path)


@dataclass(frozen=True)
class Loaded:
    file: str
    tree: t.Any
    source: SourceMap
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not self.diagnostics


class _LoadError(Exception):
    def __init__(self, line: int, column: int, code: str, message: str, path: JsonPath = (), hint: str | None = None):
        super().__init__(message)
        self.line, self.column, self.code, self.message, self.path, self.hint = line, column, code, message, path, hint


def load_file(path: str, display: str | None = None) -> Loaded:
    """Read and load `path`; `display` is the name diagnostics carry (default: `path`)."""
    name = display or path
    try:
        data = read_source(path)
    except OSError as error:
        return _failed(name, _LoadError(1, 1, "SG001", f"cannot read file: {error.strerror or error}"))
    return load_bytes(data, name)


def read_source(path: str) -> bytes:
    """A stack file's bytes, read no further than one past the largest `load_bytes` accepts."""
    with open(path, "rb") as handle:
        return handle.read(MAX_BYTES + 1)


def load_bytes(data: bytes, file: str = "stack.yaml") -> Loaded:
    try:
        text = _decode(data)
        _reject_tab_indentation(text)
        tree, source = _build(text)
    except _LoadError as error:
        return _failed(file, error)
    return Loaded(file, tree, source, ())


def _failed(file: str, error: _LoadError) -> Loaded:
    # Load quotes what it could not read (a tag, a duplicate key, a scalar): any of them may be
    # a token, so every field is masked like validate's.
    hint = credentials.redact(error.hint) if error.hint else None
    diagnostic = Diagnostic(
        file, error.line, error.column, "error", error.code, credentials.redact(error.message),
        credentials.redact(json_path(error.path)), hint,
    )
    return Loaded(file, None, SourceMap(), (diagnostic,))


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise _LoadError(1, 1, "SG002", f"file is larger than the {MAX_BYTES // (1024 * 1024)} MiB limit")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise _LoadError(1, 1, "SG003", "file is UTF-32; stack.yaml must be UTF-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _LoadError(1, 1, "SG003", "file is UTF-16; stack.yaml must be UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _line_col(data[: error.start])
        raise _LoadError(line, column, "SG003", f"invalid UTF-8 (byte 0x{data[error.start]:02x}); stack.yaml must be UTF-8") from None
    found = _NOT_PRINTABLE.search(text)
    if found is not None:
        bad = found.start()
        line, column = _line_col(text[:bad].encode())
        message, hint = _unprintable(text[bad])
        raise _LoadError(line, column, "SG003", message, hint=hint)
    return text


# YAML's printable set (tab, LF, CR, U+0020-U+007E, U+00A0 on, no surrogates, no U+FFFE/U+FFFF),
# less NEL, LS and PS: libyaml ends a line at those (YAML 1.1) where editors and YAML 1.2 do
# not, so one in a comment would shift every later position. Checked here, at its own line and
# column, before libyaml reports it at 1:1.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _unprintable(character: str) -> tuple[str, str | None]:
    """The message and hint for a character stack.yaml may not hold raw."""
    point = f"U+{ord(character):04X}"
    if character in "\x85\u2028\u2029":
        return (f"line break {point} is not allowed: YAML 1.1 ends a line there and editors do not",
                f'write it as an escape ("\\u{ord(character):04x}") inside a double-quoted string, or remove it')
    if character in "\ufffe\uffff" or "\ud800" <= character <= "\udfff":
        return f"{point} is not a character; stack.yaml must be UTF-8 text", None
    return f"control character {point} is not allowed in YAML", None


def _line_col(prefix: bytes) -> tuple[int, int]:
    lines = _YAML_BREAKS.split(prefix.decode("utf-8", errors="replace"))
    return len(lines), len(lines[-1]) + 1


def _reject_tab_indentation(text: str) -> None:
    for number, line in enumerate(_YAML_BREAKS.split(text), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            raise _LoadError(number, len(line) - len(stripped) + 1, "SG004", "tab character in indentation; YAML indents with spaces")


class _Frame:
    """An open mapping or sequence while events stream in."""

    __slots__ = ("container", "path", "pending_key", "seen")

    def __init__(self, container: dict[str, t.Any] | list[t.Any], path: JsonPath):
        self.container = container
        self.path = path
        self.pending_key: str | None = None
        self.seen: dict[str, Position] = {}


def _position(mark: t.Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class _SyntaxError(_LoadError):
    """A syntax error from the YAML parser, with the character index where it stopped."""

    def __init__(self, line: int, column: int, message: str, index: int):
        super().__init__(line, column, "SG009", message)
        self.index = index


def _build(text: str) -> tuple[t.Any, SourceMap]:
    try:
        root, values, keys, documents = _walk(text, _Loader)
    except _SyntaxError as error:
        if _Loader is not yaml.SafeLoader:
            _replay_before(text, error)
        raise
    if documents == 0 or (root is None and not values):
        raise _LoadError(1, 1, "SG010", "file is empty; expected a Stack mapping (apiVersion, kind, metadata, spec)")
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else "a single value"
        raise _LoadError(*_first(values), "SG011", f"top level is {kind}; expected a Stack mapping (apiVersion, kind, metadata, spec)")
    return root, SourceMap(values, keys)


def _replay_before(text: str, error: _SyntaxError) -> None:
    """Raise the first of our own limits that the text before libyaml's error breaks, if any.

    libyaml's scanner reads ahead of the events it hands out (up to 1,024 characters while a
    simple key may be pending), and since 0.2.6, the libyaml in PyYAML 6.0.4 wheels, it stops
    by itself at a flow nesting depth of 1,000 ("exceeded maximum nesting depth"): on
    `[[[[...` it fails before our depth check has seen event 65. Replaying the text up to its
    error with the pure-Python parser, which streams the same events with no limit of its own,
    reports what stackgen checks (SG008 at the first node too deep) whatever libyaml's version;
    every limit checked while walking is a property of the text before the node that breaks it.
    """
    try:
        _walk(text[: error.index + 1], yaml.SafeLoader)
    except (_SyntaxError, yaml.YAMLError):  # the pure-Python reader checks characters on creation
        return
    except _LoadError as earlier:
        raise earlier from None


_NODE_EVENTS = frozenset({yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent})


def _walk(text: str, loader_class: type) -> tuple[t.Any, dict[JsonPath, Position], dict[JsonPath, Position], int]:
    values: dict[JsonPath, Position] = {}
    keys: dict[JsonPath, Position] = {}
    stack: list[_Frame] = []
    root: t.Any = None
    documents = 0
    nodes = 0
    loader = loader_class(text)
    try:
        while True:
            event = loader.get_event()
            kind = type(event)  # both parsers make these exact classes; most events are nodes
            if kind not in _NODE_EVENTS:
                if event is None or kind is yaml.StreamEndEvent:
                    break
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        raise _LoadError(*_mark(event), "SG005", "several YAML documents in one file; stack.yaml holds exactly one")
                elif kind is yaml.AliasEvent:
                    raise _LoadError(*_mark(event), "SG006", "YAML aliases (*name) are not allowed: write the value out", _current_path(stack))
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    finished = stack.pop()
                    if not stack:
                        root = finished.container
                continue  # the stream's start, a document's end
            nodes += 1
            if nodes > MAX_NODES:
                raise _LoadError(*_mark(event), "SG007", f"document has more than {MAX_NODES} nodes")
            if getattr(event, "anchor", None):
                raise _LoadError(*_mark(event), "SG006", f"YAML anchors (&{event.anchor}) are not allowed: write the value out", _current_path(stack))
            _check_tag(event, stack)
            if stack and isinstance(stack[-1].container, dict) and stack[-1].pending_key is None:
                _accept_key(event, stack[-1], keys)
                continue
            path = _child_path(stack)
            values[path] = _position(event.start_mark)
            if kind is not yaml.ScalarEvent:
                if len(stack) >= MAX_DEPTH:
                    raise _LoadError(*_mark(event), "SG008", f"nesting deeper than {MAX_DEPTH} levels", path)
                container: dict[str, t.Any] | list[t.Any] = {} if kind is yaml.MappingStartEvent else []
                _attach(stack, container)
                stack.append(_Frame(container, path))
                continue
            value = _scalar(event, path)
            if not stack:
                root = value
            else:
                _attach(stack, value)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = _within_text(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        index = mark.index if mark else len(text)
        raise _SyntaxError(line, column, f"YAML syntax error: {error.problem or error.context}", index) from None
    except yaml.YAMLError as error:
        raise _SyntaxError(1, 1, f"YAML syntax error: {error}", len(text)) from None
    finally:
        loader.dispose()
    return root, values, keys, documents


def _within_text(text: str, line: int, column: int) -> tuple[int, int]:
    """libyaml puts an error at the end of a file without a final newline one line past the
    last: point at the end of the last line instead, so an editor can jump there."""
    lines = _YAML_BREAKS.split(text)
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    return line, min(column, len(lines[line - 1]) + 1)


def _mark(event: t.Any) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _first(values: dict[JsonPath, Position]) -> tuple[int, int]:
    position = values.get((), Position(1, 1))
    return position.line, position.column


def _current_path(stack: list[_Frame]) -> JsonPath:
    return _child_path(stack) if stack else ()


def _child_path(stack: list[_Frame]) -> JsonPath:
    if not stack:
        return ()
    frame = stack[-1]
    if isinstance(frame.container, dict):
        return frame.path + (frame.pending_key or "",)
    return frame.path + (len(frame.container),)


def _attach(stack: list[_Frame], value: t.Any) -> None:
    if not stack:
        return
    frame = stack[-1]
    if isinstance(frame.container, dict):
        assert frame.pending_key is not None
        frame.container[frame.pending_key] = value
        frame.pending_key = None
    else:
        frame.container.append(value)


def _check_tag(event: t.Any, stack: list[_Frame]) -> None:
    tag = getattr(event, "tag", None)
    if tag and tag != "!" and tag not in _ALLOWED_TAGS:
        raise _LoadError(*_mark(event), "SG012", f"YAML tag {tag} is not allowed here", _current_path(stack))


def _accept_key(event: t.Any, frame: _Frame, keys: dict[JsonPath, Position]) -> None:
    line, column = _mark(event)
    if not isinstance(event, yaml.ScalarEvent):
        raise _LoadError(line, column, "SG013", "mapping keys must be plain strings, not a mapping or list", frame.path)
    key = _key_text(event, frame.path, line, column)
    if key in frame.seen:
        first = frame.seen[key]
        raise _LoadError(
            line, column, "SG014", f"duplicate key `{key}` (first defined at line {first.line}, column {first.column})", frame.path + (key,)
        )
    frame.seen[key] = Position(line, column)
    frame.pending_key = key
    keys[frame.path + (key,)] = Position(line, column)


def _key_text(event: yaml.ScalarEvent, parent: JsonPath, line: int, column: int) -> str:
    tag = event.tag if event.tag not in (None, "!") else _resolve(event)
    if tag == "tag:yaml.org,2002:str" or event.style in ("'", '"'):
        return event.value
    if tag == "tag:yaml.org,2002:bool":
        meaning = "true" if event.value.lower() in {"y", "yes", "on", "true"} else "false"
        raise _LoadError(
            line, column, "SG015",
            f"key `{event.value}` is read by YAML 1.1 as the boolean {meaning}, not a string",
            parent, hint=f'quote it: "{event.value}":',
        )
    kind = {"tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a float"}.get(tag, "not a string")
    raise _LoadError(line, column, "SG015", f"key `{event.value}` is {kind}; mapping keys must be strings", parent, hint=f'quote it: "{event.value}":')


_RESOLVER = Resolver()


def _resolve(event: yaml.ScalarEvent) -> str:
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
    return tag


_CONSTRUCTOR = SafeConstructor()

# YAML 1.2 core schema numbers: decimal without a leading zero, 0o octal, 0x hex, and floats
# with digits, `.`, and an exponent. PyYAML reads YAML 1.1, which also takes `017` (octal 15),
# `0b1000`, `1_0` and `1:20` (base 60, 80): a YAML 1.2 reader, an editor, or a reviewer reads
# them otherwise, so stackgen refuses them rather than pick one meaning silently.
_YAML12_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+")
_YAML12_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


def _yaml11_only(literal: str, tag: str) -> tuple[str, str] | None:
    """What a YAML-1.1-only number means and how to write it, or None for a YAML 1.2 number."""
    if (_YAML12_INT if tag.endswith(":int") else _YAML12_FLOAT).fullmatch(literal):
        return None
    try:
        value = _CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode(tag, literal)) if tag.endswith(":int") else None
    except (ValueError, ConstructorError):
        value = None
    shown = f"{value}" if value is not None else "a float"
    if ":" in literal:
        return f"{shown} (base 60)", f"write {value if value is not None else 'the number'} in decimal, or quote it if it is a time or a ratio: \"{literal}\""
    if "_" in literal:
        return f"{shown} (YAML 1.1 drops `_`)", f"write it without `_`, or quote it: \"{literal}\""
    if literal.lstrip("+-").startswith("0b"):
        return f"{shown} (binary)", f"write {value} in decimal"
    return f"{shown} (octal)", f"write {value} if octal was meant, {literal.lstrip('+-0') or '0'} if decimal was, or quote it: \"{literal}\""


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _scalar(event: t.Any, path: JsonPath) -> t.Any:
    tag = event.tag if event.tag not in (None, "!") else _resolve(event)
    if event.tag == "!":
        tag = "tag:yaml.org,2002:str"
    if tag == "tag:yaml.org,2002:str":  # most of a stack: nothing to construct
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and len(event.value) > MAX_SCALAR_DIGITS:
        raise _LoadError(*_mark(event), "SG016", f"number literal longer than {MAX_SCALAR_DIGITS} characters", path)
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and (meaning := _yaml11_only(event.value, tag)):
        raise _LoadError(*_mark(event), "SG017", f"number `{event.value}` means {meaning[0]} in YAML 1.1 only", path, hint=meaning[1])
    try:
        if tag == "tag:yaml.org,2002:int":
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return _CONSTRUCTOR.construct_yaml_float(node)
        if tag == "tag:yaml.org,2002:bool":
            return _CONSTRUCTOR.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:timestamp":
            value: datetime.date = _CONSTRUCTOR.construct_yaml_timestamp(node)
            return value
    except (ConstructorError, ValueError, OverflowError):
        # Masked before it is cut: a token cut short no longer looks like one.
        shown = _clip(credentials.redact(event.value))
        raise _LoadError(*_mark(event), "SG016", f"cannot read scalar `{shown}` as {tag.rsplit(':', 1)[-1]}", path) from None
    raise _LoadError(*_mark(event), "SG012", f"YAML tag {tag} is not allowed here", path)
