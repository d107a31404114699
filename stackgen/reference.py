"""reference: the stack.yaml reference in Markdown, generated from the JSON Schema.

The schema is the one source of truth (DESIGN.md), so docs/reference.md is generated from it and
a test keeps the committed copy fresh: the reference and the validator can never disagree.

    python3 -m stackgen.reference > docs/reference.md

Every object becomes a section named by its path (`spec.clusters[].gpu`), with one row per
property: type, whether it is required, its default, and its description followed by its
constraints (enum, pattern, bounds) and examples. Output depends only on the schema: sections
and rows follow the schema's own order. A last section publishes the registry of diagnostic
codes (stackgen/codes.py), one row per code.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import typing as t

from stackgen.codes import CODES, Code
from stackgen.validate import load_schema

REGENERATE = "python3 -m stackgen.reference > docs/reference.md"

Schema = t.Mapping[str, t.Any]


@dataclasses.dataclass(frozen=True)
class Section:
    """One object of the schema: where it sits in stack.yaml and the schema node describing it."""

    path: str
    node: Schema


def anchor(path: str) -> str:
    """A heading id that survives every Markdown renderer: letters, digits and hyphens only."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"


def _definition_name(ref: str) -> str:
    prefix = "#/definitions/"
    if not ref.startswith(prefix):
        raise ValueError(f"only local definitions are supported, not {ref!r}")
    return ref[len(prefix):]


def _definition_path(name: str) -> str:
    return f"definitions/{name}"


def _is_object(node: Schema) -> bool:
    return node.get("type") == "object" and "properties" in node


def _item_path(path: str) -> str:
    return f"{path}[]"


def _child_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def sections(schema: Schema) -> list[Section]:
    """Every object in document order (depth first), then the shared definitions."""
    found: list[Section] = []

    def visit(path: str, node: Schema) -> None:
        if "$ref" in node:
            return  # a definition is documented once, in its own section
        if _is_object(node):
            found.append(Section(path, node))
            for name, child in node["properties"].items():
                visit(_child_path(path, name), child)
        elif node.get("type") == "array" and isinstance(node.get("items"), dict):
            visit(_item_path(path), node["items"])

    visit("", schema)
    for name, node in schema.get("definitions", {}).items():
        visit(_definition_path(name), node)
    return found


def _code(value: str) -> str:
    """A code span for a table cell: a pipe would end the cell, so GFM wants it escaped."""
    fence = "``" if "`" in value else "`"
    pad = " " if "`" in value else ""
    return f"{fence}{pad}{value.replace('|', chr(92) + '|')}{pad}{fence}"


def _json(value: t.Any) -> str:
    return _code(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _link(path: str) -> str:
    return f"[`{path or '(top level)'}`](#{anchor(path)})"


def type_of(path: str, node: Schema) -> str:
    """The property's type as a reader needs it: objects and object lists link to their section."""
    if "$ref" in node:
        return f"object, see {_link(_definition_path(_definition_name(node['$ref'])))}"
    if "const" in node:
        return f"constant {_json(node['const'])}"
    kind = node.get("type", "any")
    if _is_object(node):
        return f"object, see {_link(path)}"
    if kind == "array":
        items = node.get("items", {})
        if _is_object(items) or "$ref" in items:
            return f"list of {type_of(_item_path(path), items)}"
        return f"list of {items.get('type', 'any')}"
    return str(kind)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _bounds(node: Schema) -> list[str]:
    found: list[str] = []
    for key, template, noun in (
        ("minLength", "at least {}", "character"),
        ("maxLength", "at most {}", "character"),
        ("minimum", "at least {}", ""),
        ("maximum", "at most {}", ""),
        ("minItems", "at least {}", "item"),
        ("maxItems", "at most {}", "item"),
    ):
        if key in node:
            found.append(template.format(_counted(node[key], noun) if noun else node[key]))
    if node.get("uniqueItems"):
        found.append("no duplicates")
    return found


def constraints(node: Schema) -> list[str]:
    """What a value must be, beyond its type: one sentence each, for the description cell."""
    found: list[str] = []
    if "enum" in node:
        found.append("One of " + ", ".join(_json(v) for v in node["enum"]) + ".")
    if "pattern" in node:
        found.append(f"Pattern {_code(node['pattern'])}.")
    bounds = _bounds(node)
    if bounds:
        found.append(_sentence(", ".join(bounds)))
    items = node.get("items")
    if isinstance(items, dict) and not _is_object(items) and "$ref" not in items:
        item_rules = [c.rstrip(".") for c in constraints(items)]
        if item_rules:
            found.append(_sentence("Each item: " + "; ".join(r[0].lower() + r[1:] for r in item_rules)))
    if "examples" in node:
        label = "Example" if len(node["examples"]) == 1 else "Examples"
        found.append(f"{label}: " + ", ".join(_json(v) for v in node["examples"]) + ".")
    return found


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _cell(text: str) -> str:
    """Table cells are one line."""
    return " ".join(text.split())


def _prose(text: str) -> str:
    """Descriptions are plain text: a pipe would split the table row, `<claim>` would read as HTML.

    Code spans keep `<` as it is (Markdown shows them literally) but still need the pipe escaped.
    """
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(
        part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;")
        for part in parts
    ).replace("|", chr(92) + "|")


def _row(section: Section, name: str, node: Schema) -> str:
    path = _child_path(section.path, name)
    required = "yes" if name in section.node.get("required", ()) else ""
    default = _json(node["default"]) if "default" in node else ""
    text = " ".join([_prose(node.get("description", "")), *constraints(node)]).strip()
    return f"| `{name}` | {type_of(path, node)} | {required} | {default} | {_cell(text)} |"


def render_section(section: Section) -> str:
    title = section.path or "(top level)"
    lines = [f'<a id="{anchor(section.path)}"></a>', "", f"## `{title}`", ""]
    if "description" in section.node:
        lines += [_cell(section.node["description"]), ""]
    if section.node.get("additionalProperties") is False:
        lines += ["No other keys are allowed.", ""]
    lines += ["| key | type | required | default | description |", "|---|---|---|---|---|"]
    lines += [_row(section, name, node) for name, node in section.node["properties"].items()]
    return "\n".join(lines) + "\n"


def render(schema: Schema) -> str:
    """The whole reference: a header, a table of contents, then one section per object."""
    found = sections(schema)
    header = [
        "# stack.yaml reference",
        "",
        "<!-- Generated from schemas/stack.schema.json and stackgen/codes.py; do not edit. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        f"Generated from [`schemas/stack.schema.json`](../schemas/stack.schema.json) (JSON Schema {_draft(schema)}),",
        "the schema `stackgen validate` checks against and `stackgen schema` prints. Validation then adds",
        "the checks a schema cannot express: names that must exist, roles, placement, literal credentials.",
        "",
        "Paths read as in stack.yaml: `spec.clusters[]` is one item of the `clusters` list.",
        "",
        "Sections:",
        "",
    ]
    header += [f"- {_link(s.path)}" for s in found]
    header += [f"- [Diagnostic codes](#{CODES_ANCHOR})"]
    return "\n".join(header) + "\n\n" + "\n".join(render_section(s) for s in found) + "\n" + render_codes(CODES.values())


CODES_ANCHOR = "diagnostic-codes"


def render_codes(codes: t.Iterable[Code]) -> str:
    """The registry of codes: what `[SG101]` at the end of a diagnostic means."""
    lines = [f'<a id="{CODES_ANCHOR}"></a>', "", "## Diagnostic codes", "",
             "Every code stackgen prints, from `stackgen/codes.py`. SG7xx codes concern the environment",
             "(exit 2, or 1 where noted); every other error means invalid input (exit 1).", "",
             "| code | severity | stage | meaning | example |", "|---|---|---|---|---|"]
    lines += [f"| `{c.code}` | {c.severity} | {', '.join(c.emitted_by)} | {_cell(_prose(c.meaning))} | {_cell(_prose(c.example))} |"
              for c in codes]
    return "\n".join(lines) + "\n"


def _draft(schema: Schema) -> str:
    match = re.search(r"draft-0?(\d+)", str(schema.get("$schema", "")))
    return f"draft-{int(match.group(1)):02d}" if match else "(no $schema)"


def main() -> None:
    sys.stdout.buffer.write(render(load_schema()).encode("utf-8"))


if __name__ == "__main__":
    main()
