"""docs/reference.md is generated from the schema and kept fresh; the generator's own rules."""

from __future__ import annotations

import re
import subprocess
import sys
import typing as t

import jsonschema
import pytest

from stackgen import reference
from stackgen.validate import load_schema
from tests.compiling import ROOT

REFERENCE = ROOT / "docs" / "reference.md"


def test_committed_reference_is_fresh() -> None:
    fresh = reference.render(load_schema())
    assert REFERENCE.read_text("utf-8") == fresh, (
        f"docs/reference.md is stale: regenerate it with `{reference.REGENERATE}` and commit it"
    )


def test_module_prints_the_reference() -> None:
    result = subprocess.run([sys.executable, "-m", "stackgen.reference"], cwd=ROOT, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8") == reference.render(load_schema())


def _walk(node: t.Any, path: str = "") -> t.Iterator[tuple[str, dict[str, t.Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, child in node.items():
            yield from _walk(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, f"{path}/{index}")


def _properties() -> list[tuple[str, dict[str, t.Any]]]:
    return [(f"{path}/{name}", child) for path, node in _walk(load_schema()) if path.endswith("properties")
            for name, child in node.items()]


def test_every_property_of_the_schema_has_a_description() -> None:
    # Descriptions are the reference's text and the editors' hover: none may be missing.
    missing = [path for path, node in _properties() if not node.get("description")]
    assert not missing


@pytest.mark.parametrize("path", [p for p, node in _properties() if "examples" in node])
def test_every_example_in_the_schema_is_valid(path: str) -> None:
    node = dict(_walk(load_schema()))[path]
    resolved = {**load_schema()["definitions"], **node} if "$ref" in node else node
    for example in node["examples"]:
        jsonschema.Draft7Validator(resolved).validate(example)


def test_every_property_path_has_a_row() -> None:
    text = reference.render(load_schema())
    for section in reference.sections(load_schema()):
        title = section.path or "(top level)"
        block = text.split(f"## `{title}`\n", 1)[1].split("\n## ", 1)[0]
        for name in section.node["properties"]:
            assert f"\n| `{name}` |" in block, f"{title}.{name} has no row"


SMALL: dict[str, t.Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["kind", "items"],
    "additionalProperties": False,
    "definitions": {"where": {"type": "object", "properties": {"on": {"type": "string", "description": "Where."}}}},
    "properties": {
        "kind": {"type": "string", "enum": ["a", "b"], "description": "The kind | sort."},
        "size": {"type": "integer", "minimum": 1, "default": 3, "description": "How many."},
        "uri": {"type": "string", "pattern": "^(s3|gs)://.+$", "examples": ["s3://x"], "description": "Like pvc://<claim>."},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": {"name": {"type": "string", "description": "Its name."}}},
            "description": "Things.",
        },
        "place": {"$ref": "#/definitions/where", "description": "Placement."},
    },
}


def _row(text: str, key: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))


def test_required_default_enum_pattern_examples_and_bounds_are_shown() -> None:
    text = reference.render(SMALL)
    assert _row(text, "kind").split(" | ")[2] == "yes"
    assert _row(text, "size").split(" | ")[2] == ""
    assert "| `3` |" in _row(text, "size") and "At least 1." in _row(text, "size")
    assert 'One of `"a"`, `"b"`.' in _row(text, "kind")
    assert r"Pattern `^(s3\|gs)://.+$`." in _row(text, "uri")
    assert 'Example: `"s3://x"`.' in _row(text, "uri")
    assert "At least 1 item." in _row(text, "items")


def test_pipes_and_angle_brackets_cannot_break_the_table() -> None:
    text = reference.render(SMALL)
    assert r"The kind \| sort." in _row(text, "kind")
    assert "pvc://&lt;claim&gt;" in _row(text, "uri")
    for line in text.splitlines():
        if line.startswith("| `"):
            assert len(re.split(r"(?<!\\)\|", line)) == 7, line  # five cells, whatever the text


def test_nested_objects_lists_and_definitions_get_linked_sections() -> None:
    text = reference.render(SMALL)
    assert [s.path for s in reference.sections(SMALL)] == ["", "items[]", "definitions/where"]
    assert "list of object, see [`items[]`](#items)" in _row(text, "items")
    assert "object, see [`definitions/where`](#definitions-where)" in _row(text, "place")
    assert '<a id="items"></a>\n\n## `items[]`' in text


def test_anchors_are_unique_and_every_link_resolves() -> None:
    text = reference.render(load_schema())
    anchors = re.findall(r'<a id="([^"]+)"></a>', text)
    assert len(anchors) == len(set(anchors))
    assert set(re.findall(r"\]\(#([^)]+)\)", text)) <= set(anchors)


def test_output_is_deterministic_and_follows_schema_order() -> None:
    assert reference.render(SMALL) == reference.render(SMALL)
    text = reference.render(SMALL)
    assert text.index("| `kind` |") < text.index("| `size` |") < text.index("| `uri` |")


def test_remote_references_are_refused() -> None:
    with pytest.raises(ValueError, match="only local definitions"):
        reference.render({"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}})
