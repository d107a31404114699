"""Diagnostics as data: every stage reports problems as `Diagnostic` values, never prints."""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import asdict, dataclass

Severity = t.Literal["error", "warning"]
JsonPath = tuple[str | int, ...]
# Paints a piece of text by its role ("error", "warning", "location", "code", "hint"); `plain` paints nothing.
Style = t.Callable[[str, str], str]

_ANSI = {"error": "1;31", "warning": "1;33", "location": "1", "code": "2", "hint": "36",
         "added": "32", "removed": "31", "changed": "33"}


def plain(role: str, text: str) -> str:
    return text


def ansi(role: str, text: str) -> str:
    return f"\033[{_ANSI[role]}m{text}\033[0m" if role in _ANSI else text


@dataclass(frozen=True, order=False)
class Diagnostic:
    """One problem, located in a file by 1-based line and column and by JSON path."""

    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str
    path: str = "$"
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)

    def __lt__(self, other: Diagnostic) -> bool:
        return self.sort_key() < other.sort_key()

    def render(self, style: Style = plain) -> str:
        text = (f"{style('location', f'{self.file}:{self.line}:{self.column}:')} {style(self.severity, self.severity + ':')} "
                f"{printable(self.message)} {style('code', f'[{self.code}]')}")
        if self.hint:
            text += "\n  " + style("hint", f"hint: {printable(self.hint)}")
        return text

    def github(self) -> str:
        hint = printable(self.hint) if self.hint else None
        return github_annotation(self.severity, printable(self.message), self.code, self.file, self.line, self.column, hint)

    def as_json(self) -> dict[str, t.Any]:
        fields = asdict(self)
        for key in ("message", "path", "hint"):
            if fields[key] is not None:
                fields[key] = printable(fields[key])
        return fields


MAX_WORD = 120
"""Longest run of non-blank characters printed in a message, hint or path."""
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD + 1},}}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe to print: control, line-breaking and bidirectional characters escaped (an ESC
    from a quoted `"\\e[2J"` in stack.yaml would drive the terminal, a newline would forge a
    diagnostic line, a bidi override would reorder it) and every overlong word clipped (a
    10,000-character name quoted back by every message that mentions it buries the report)."""
    text = _CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return _LONG_WORD.sub(lambda m: f"{m.group(0)[:MAX_WORD - 20]}...({len(m.group(0)) - MAX_WORD + 20} more)", text)


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 replica`, `2 replicas`, `0 training jobs`: every count a person reads agrees with its noun."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def json_path(path: JsonPath) -> str:
    """`("spec", "clusters", 0, "name")` -> `$.spec.clusters[0].name`."""
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and part[:1].isalpha():
            text += f".{part}"
        else:
            text += "[" + json.dumps(part) + "]"
    return text


def has_errors(diagnostics: t.Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def render_text(diagnostics: t.Iterable[Diagnostic], style: Style = plain) -> str:
    return "".join(d.render(style) + "\n" for d in sorted(diagnostics))


def render_github(diagnostics: t.Iterable[Diagnostic]) -> str:
    return "".join(d.github() + "\n" for d in sorted(diagnostics))


def github_annotation(severity: str, message: str, code: str, file: str, line: int | None = None,
                      column: int | None = None, hint: str | None = None) -> str:
    """A GitHub Actions workflow command, which the runner turns into an annotation on the file's line.

    Escaping follows the runner's rules (actions/toolkit `command.ts`): data escapes `%`, CR and LF;
    property values escape `:` and `,` as well, so a path or title cannot end the property early.
    """
    properties = [f"file={_escape_property(file)}"]
    if line:
        properties.append(f"line={line}")
        if column:
            properties.append(f"col={column}")
    properties.append(f"title={_escape_property(code)}")
    body = message + (f"\nhint: {hint}" if hint else "")
    return f"::{severity} {','.join(properties)}::{_escape_data(body)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class EnvironmentProblem:
    """An error that ends a command before or after the stages ran: printed once, at the CLI's edge."""

    code: str
    message: str
    file: str = ""
    hint: str | None = None

    def render(self, style: Style = plain) -> str:
        where = style("location", f"{self.file}:") + " " if self.file else ""
        text = f"{where}{style('error', 'error:')} {printable(self.message)} {style('code', f'[{self.code}]')}"
        return text + ("\n  " + style("hint", f"hint: {printable(self.hint)}") if self.hint else "")

    def github(self) -> str:
        return github_annotation("error", printable(self.message), self.code, self.file or "stack.yaml")

    def as_json(self) -> dict[str, t.Any]:
        # The fields of a Diagnostic, so one parser reads both; no position to give.
        return {"file": self.file, "line": None, "column": None, "severity": "error", "code": self.code,
                "message": printable(self.message), "path": None, "hint": printable(self.hint) if self.hint else None}


@dataclass(frozen=True)
class Finding:
    """A problem a stage found in the model, located by JSON path only.

    Stages past `model` know paths, not lines; `locate` turns findings into diagnostics with the
    source map the loader kept.
    """

    path: JsonPath
    code: str
    message: str
    hint: str | None = None
    severity: Severity = "error"


class _Locator(t.Protocol):
    def value_at(self, path: JsonPath) -> t.Any: ...


def locate(findings: t.Iterable[Finding], file: str, source: _Locator) -> list[Diagnostic]:
    located = []
    for finding in findings:
        position = source.value_at(finding.path)
        located.append(
            Diagnostic(
                file, position.line, position.column, finding.severity, finding.code,
                finding.message, json_path(finding.path), finding.hint,
            )
        )
    return sorted(located)
