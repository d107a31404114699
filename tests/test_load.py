"""load: positions, and every malformed input a diagnostic (never an exception)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackgen.load import MAX_DEPTH, Position, load_bytes


def test_positions_for_values_and_keys() -> None:
    loaded = load_bytes(b"spec:\n  clusters:\n    - name: x\n      cloud: aws\n")
    assert loaded.ok
    assert loaded.source.value_at(("spec", "clusters", 0, "cloud")) == Position(4, 14)
    assert loaded.source.key_at(("spec", "clusters", 0, "cloud")) == Position(4, 7)
    assert loaded.source.value_at(("spec", "clusters", 0)) == Position(3, 7)
    # a path that does not exist falls back to its nearest ancestor
    assert loaded.source.value_at(("spec", "clusters", 0, "region")) == Position(3, 7)


@pytest.mark.parametrize(
    ("source", "line", "column", "code", "fragment"),
    [
        (b"a: 1\nb: 2\na: 3\n", 3, 1, "SG014", "duplicate key `a` (first defined at line 1, column 1)"),
        (b"spec:\n  on: true\n", 2, 3, "SG015", "boolean true"),
        (b"no: 1\n", 1, 1, "SG015", "boolean false"),
        (b"1: x\n", 1, 1, "SG015", "an integer"),
        (b"~: x\n", 1, 1, "SG015", "null"),
        (b"a: &anchor 1\n", 1, 4, "SG006", "anchors"),
        (b"a: [*x]\n", 1, 5, "SG006", "aliases"),
        (b"a: 1\n---\nb: 2\n", 2, 1, "SG005", "several YAML documents"),
        (b"- a\n- b\n", 1, 1, "SG011", "top level is a list"),
        (b"just text\n", 1, 1, "SG011", "a single value"),
        (b"", 1, 1, "SG010", "empty"),
        (b"# nothing\n", 1, 1, "SG010", "empty"),
        (b"a: ok\nb: \xc3\x28\n", 2, 4, "SG003", "invalid UTF-8"),
        (b"\xff\xfea\x00", 1, 1, "SG003", "UTF-16"),
        (b"a:\n\tb: 1\n", 2, 1, "SG004", "tab character"),
        (b"a: " + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5) + b"\n", 1, MAX_DEPTH + 3, "SG008", "nesting deeper"),
        (b"a: " + b"9" * 100 + b"\n", 1, 4, "SG016", "number literal longer"),
        (b"a: !!python/object:os.system x\n", 1, 4, "SG012", "not allowed"),
        (b"a: b: c\n", 1, 5, "SG009", "YAML syntax error"),
        (b"? [a]\n: 1\n", 1, 3, "SG013", "plain strings"),
        (b"a: \x07\n", 1, 4, "SG003", "control character"),
        # found by fuzzing: positions count lines as YAML does (a lone CR ends one) ...
        (b"a: 1\rb: \xff\n", 2, 4, "SG003", "invalid UTF-8"),
        (b"a: 1\rb: \x07\n", 2, 4, "SG003", "control character"),
        (b"a: 1\r\tb: 2\n", 2, 1, "SG004", "tab character"),
        # ... and an error at the end of a file without a final newline is on its last line
        (b"a: {b: 1", 1, 9, "SG009", "YAML syntax error"),
    ],
)
def test_malformed_input_is_one_diagnostic(source: bytes, line: int, column: int, code: str, fragment: str) -> None:
    loaded = load_bytes(source, "s.yaml")
    assert loaded.tree is None
    [diagnostic] = loaded.diagnostics
    assert (diagnostic.line, diagnostic.column, diagnostic.code) == (line, column, code), diagnostic.render()
    assert fragment in diagnostic.message
    assert diagnostic.render().startswith(f"s.yaml:{line}:{column}: error: ")


def test_bom_is_accepted_and_quoted_boolean_words_are_keys() -> None:
    loaded = load_bytes(b'\xef\xbb\xbf"on": 1\n\'yes\': 2\n')
    assert loaded.tree == {"on": 1, "yes": 2}


def test_alias_bomb_is_refused_before_expansion() -> None:
    lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [b"a%d: &a%d [" % (i, i) + b", ".join([b"*a%d" % (i - 1)] * 10) + b"]" for i in range(1, 12)]
    loaded = load_bytes(b"\n".join(lines) + b"\n")
    assert [d.code for d in loaded.diagnostics] == ["SG006"]


def test_deep_nesting_far_past_the_bound_is_cheap() -> None:
    depth = 200_000
    loaded = load_bytes(b"a: " + b"[" * depth + b"]" * depth + b"\n")
    assert [d.code for d in loaded.diagnostics] == ["SG008"]


def test_oversized_file() -> None:
    loaded = load_bytes(b"a: " + b"x" * (9 * 1024 * 1024))
    assert [d.code for d in loaded.diagnostics] == ["SG002"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_tree_or_diagnostics(data: bytes) -> None:
    loaded = load_bytes(data)
    assert (loaded.tree is None) == bool(loaded.diagnostics)
    for diagnostic in loaded.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.column >= 1


_yaml_text = st.text(alphabet=string.ascii_letters + string.digits + ":-[]{},&*!#|>'\"\n ?.\t~@`%", max_size=300)


@settings(max_examples=400, deadline=None)
@given(_yaml_text)
def test_arbitrary_yaml_like_text_gives_a_tree_or_diagnostics(text: str) -> None:
    loaded = load_bytes(text.encode())
    assert (loaded.tree is None) == bool(loaded.diagnostics)
    if loaded.tree is not None:
        assert isinstance(loaded.tree, dict)


def test_the_depth_bound_holds_before_any_limit_of_libyaml() -> None:
    # libyaml 0.2.6 (PyYAML 6.0.4 wheels) stops by itself at flow depth 1,000; the diagnostic
    # must be the same SG008, at the same node, as for input that libyaml parses through.
    shallow = load_bytes(b"a: " + b"[" * 100 + b"]" * 100 + b"\n").diagnostics
    deep = load_bytes(b"a: " + b"[" * 5_000 + b"]" * 5_000 + b"\n").diagnostics
    assert [(d.code, d.line, d.column, d.message) for d in deep] == [
        (d.code, d.line, d.column, d.message) for d in shallow
    ]
    assert [d.code for d in deep] == ["SG008"]
