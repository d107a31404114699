"""Schema patterns mean what ECMA-262 says, as in editors and ajv (tests/test_editor.py checks
ajv itself); here the expected verdicts are written down, so these run without Node."""

from __future__ import annotations

import typing as t

import pytest

from stackgen.ecma import UnsupportedPattern, compile_pattern
from stackgen.load import load_bytes
from stackgen.validate import load_schema, validate

# (pattern, text, whether ECMA-262 finds a match): each one Python's `re` alone gets wrong.
VERDICTS = [
    ("^[a-z]+$", "acme", True),
    ("^[a-z]+$", "acme\n", False),  # Python's $ also matches before a final newline
    ("^[^\\s]+$", "main\x85", True),  # U+0085 is no ECMA whitespace
    ("^[^\\s]+$", "main\x1c", True),
    ("^[^\\s]+$", "main\ufeff", False),  # U+FEFF is
    ("^[^\\s]+$", "main\xa0", False),
    ("^a\\sb$", "a\u2028b", True),
    ("^a\\Sb$", "a\ufeffb", False),
    ("^(?=.{1,3}$)a+$", "aa\r", False),  # . never matches a line terminator
    ("^.$", "\u2029", False),
    ("^\\d+$", "\u0663", False),  # Arabic-Indic three: a digit only to Python
    ("^\\w+$", "\xe9", False),
    ("\\bx", "\xe9x", True),  # a word boundary after a non-ASCII letter
    ("^[$]$", "$", True),  # $ inside a class is itself
    ("^a\\$$", "a$", True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), VERDICTS)
def test_patterns_read_as_ecma(pattern: str, text: str, matches: bool) -> None:
    assert bool(compile_pattern(pattern).search(text)) is matches


@pytest.mark.parametrize("pattern", ["[]", "a[^]b", "[\\S]", "(?<year>[0-9]{4})"])
def test_constructs_without_a_python_spelling_are_refused(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        compile_pattern(pattern)


def _patterns(node: t.Any) -> t.Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_schema_pattern_translates() -> None:
    patterns = sorted(set(_patterns(load_schema())))
    assert len(patterns) >= 15
    for pattern in patterns:
        compile_pattern(pattern)


def test_a_name_ending_in_a_newline_is_refused_at_its_value() -> None:
    text = 'apiVersion: stackgen.io/v1alpha1\nkind: Stack\nmetadata: {name: "acme\\n"}\n'
    text += 'spec:\n  gitops: {engine: flux, repoURL: "https://git.example.com/ml.git"}\n'
    text += '  clusters:\n    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [training]}\n'
    [diagnostic] = validate(load_bytes(text.encode()))
    assert (diagnostic.line, diagnostic.column, diagnostic.code, diagnostic.path) == (3, 18, "SG105", "$.metadata.name")
