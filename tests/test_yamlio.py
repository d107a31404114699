"""yamlio's fast emitter writes what PyYAML writes, byte for byte, and it reads back as the tree.

Property-based: hypothesis draws trees in the shape stages write (nested dicts and lists of
strings, numbers, booleans and nulls, shared keys, multi-line and awkward strings) and both
emitters (overlays: compile's order, literal blocks; goldens: sorted keys) must equal
`yaml.dump` with the same options, and `yaml.safe_load` of the text must give the tree back.
"""

from __future__ import annotations

import typing as t

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackgen import yamlio

# Strings that stress quoting: indicators, YAML 1.1 booleans, numbers, spaces at the ends,
# line breaks in every position, non-ASCII and non-printable characters.
_AWKWARD = st.sampled_from(["", " ", "yes", "no", "on", "null", "~", "1", "0x1f", "1e3", "-", "- x", "a: b", "#c", "'q'", '"d"',
                            "*ref", "&a", "!tag", "%x", "@", "`", "{a}", "[b]", "a\nb", "a\n", "a\n\n", "\nlead", " lead\nx",
                            "trail \nx", "x\n  indented\n", "tab\tx", "é ü 中", "\x07bell", "\u2028sep", "a\r\nb", "---", "..."])
# Where a string stops being plain: indicators first or last, a resolver's number or time.
_NEARLY_PLAIN = st.sampled_from(["a:", ":a", "@a", "a@b", "-a", "a-", "..", "...a", "./a", ".5", ".inf", ".NaN", "1:2", "12:30:00",
                                 "190:20:30", "2001-12-14", "0o17", "0b1", "1_000", "s3://b/k", "arn:aws:iam::1:role/r", "a::b", "x/y:"])
_TEXT = st.one_of(_AWKWARD, _NEARLY_PLAIN, st.from_regex(r"[A-Za-z][A-Za-z0-9._/-]{0,12}", fullmatch=True),
                  st.from_regex(r"[A-Za-z0-9./:@-][A-Za-z0-9._/@:-]{0,16}", fullmatch=True),
                  st.sampled_from(["Yes", "NO", "True", "off", "Null", "NULL", "y", "n", "e1", "E.5"]), st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
                  st.lists(_AWKWARD, max_size=4).map("\n".join))
_SCALAR = st.one_of(_TEXT, st.integers(), st.booleans(), st.none(),
                    st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 1e20, float("inf"), float("-inf")]))
_KEY = st.one_of(st.sampled_from(["apiVersion", "kind", "metadata", "name", "spec", "", "a b", "yes", "1", "-k", "é"]), _TEXT)
_TREE = st.recursive(_SCALAR, lambda children: st.one_of(st.lists(children, max_size=4),
                                                             st.dictionaries(_KEY, children, max_size=4)), max_leaves=30)
_DOCUMENT = st.one_of(st.dictionaries(_KEY, _TREE, max_size=6), st.lists(_TREE, max_size=6))


def _reference(body: t.Any, dumper: type, sort_keys: bool) -> str:
    text: str = yaml.dump(body, Dumper=dumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True, width=4096)
    return text


def _reads_back(text: str, body: t.Any) -> None:
    # PyYAML itself writes a NEL (U+0085) in a plain key that its reader then takes for a space:
    # where one is present the round trip is PyYAML's own defect, and byte equality is the test.
    if "\x85" not in text:
        assert yaml.safe_load(text) == body


@settings(max_examples=200, deadline=None)
@given(_DOCUMENT)
def test_the_overlay_emitter_writes_what_pyyaml_writes(body: t.Any) -> None:
    text = yamlio.OVERLAYS.dump(body)
    assert text == _reference(body, yamlio.LiteralDumper, sort_keys=False)
    _reads_back(text, body)


@settings(max_examples=200, deadline=None)
@given(_DOCUMENT)
def test_the_golden_emitter_writes_what_safe_dump_writes(body: t.Any) -> None:
    text = yamlio.GOLDENS.dump(body)
    assert text == yaml.safe_dump(body, sort_keys=True, allow_unicode=True, width=4096)
    _reads_back(text, body)


def test_what_only_pyyaml_writes_exactly_goes_to_pyyaml_whole() -> None:
    shared = {"a": 1}
    long_line = "word " * 1000
    for body in ({"x": shared, "y": shared}, {"k": long_line}, {1: "int key"}, {"k" * 200: 1}, "top", {"t": (1, 2)}):
        try:
            expected = _reference(body, yamlio.LiteralDumper, sort_keys=False)
        except yaml.representer.RepresenterError:
            continue
        assert yamlio.OVERLAYS.dump(body) == expected


# Subtrees declared constant, as compile declares the parts every Argo CD Application shares.
_CONSTANT_TREES = [yamlio.constant({"automated": {"prune": True}, "syncOptions": ["A=true", "B"], "retry": {"limit": 10}}),
                   yamlio.constant([{"group": "g", "kind": "K", "paths": ["/a", "/b"]}, {"kind": "L"}]),
                   yamlio.constant({"block": "line one\nline two\n", "empty": {}, "none": None})]
_WITH_CONSTANTS = st.recursive(st.one_of(_SCALAR, st.sampled_from(_CONSTANT_TREES)),
                               lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEY, children, max_size=4)),
                               max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.dictionaries(_KEY, _WITH_CONSTANTS, max_size=5), st.lists(_WITH_CONSTANTS, max_size=5)), min_size=1, max_size=4))
def test_a_constant_is_written_as_pyyaml_writes_it_wherever_it_sits(documents: list[t.Any]) -> None:
    """At any depth, inline in a list or under a key, in one document after another; met twice
    in one document, it is an anchor and an alias, as PyYAML writes it."""
    for emitter, dumper, sort_keys in ((yamlio.Emitter(yamlio.LiteralDumper, sort_keys=False), yamlio.LiteralDumper, False),
                                       (yamlio.Emitter(yaml.SafeDumper, sort_keys=True), yaml.SafeDumper, True)):
        for body in documents:
            assert emitter.dump(body) == _reference(body, dumper, sort_keys)
