"""Diagnostics as data: every stage reports problems as `Diagnostic` values, never prints."""

from __future__ import annotations

import json
import typing as t
from dataclasses import asdict, dataclass

Severity = t.Literal["error", "warning"]
JsonPath = tuple[t.Union[str, int], ...]
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
                f"{self.message} {style('code', f'[{self.code}]')}")
        if self.hint:
            text += "\n  " + style("hint", f"hint: {self.hint}")
        return text

    def github(self) -> str:
        return github_annotation(self.severity, self.message, self.code, self.file, self.line, self.column, self.hint)

    def as_json(self) -> dict[str, t.Any]:
        return asdict(self)


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


def render_json(diagnostics: t.Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_json() for d in sorted(diagnostics)], indent=2, ensure_ascii=False) + "\n"


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
