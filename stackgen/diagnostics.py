"""Diagnostics as data: every stage reports problems as `Diagnostic` values, never prints."""

from __future__ import annotations

import json
import typing as t
from dataclasses import asdict, dataclass

Severity = t.Literal["error", "warning"]
JsonPath = tuple[t.Union[str, int], ...]


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

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

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


def render_text(diagnostics: t.Iterable[Diagnostic]) -> str:
    return "".join(d.render() + "\n" for d in sorted(diagnostics))


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
