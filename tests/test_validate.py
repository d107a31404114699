"""validate: schema errors at their node, cross-references, credentials masked, all at once."""

from __future__ import annotations

import typing as t

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackgen.diagnostics import Diagnostic
from stackgen.load import load_bytes
from stackgen.validate import CODES, load_schema, schema_text, validate
from tests.compiling import BUNDLED

BASE = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  gitops: {engine: flux, repoURL: "https://git.example.com/ml.git"}
  clusters:
    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [training]}
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [serving]}
"""


def _check(text: str) -> list[Diagnostic]:
    loaded = load_bytes(text.encode(), "s.yaml")
    assert loaded.ok, loaded.diagnostics
    return validate(loaded)


def _where(diagnostics: list[Diagnostic]) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.code) for d in diagnostics]


def test_bundled_stack_is_valid() -> None:
    assert validate(load_bytes(BUNDLED.read_bytes())) == []


def test_schema_is_draft07_and_documents_every_property() -> None:
    schema = load_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema_text().endswith("\n")

    def walk(node: t.Any, path: str) -> None:
        if isinstance(node, dict):
            for name, child in node.get("properties", {}).items():
                assert "description" in child, f"{path}.{name}"
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(schema, "$")


def test_unknown_key_at_the_key_with_a_hint() -> None:
    [d] = _check(BASE + "  datasets:\n    - {name: x, uri: 's3://b/x', cluster: a, sise: 1Ti}\n")
    assert (d.line, d.column, d.code, d.hint) == (10, 46, "SG101", "did you mean `size`?")


def test_missing_key_at_its_parent_mapping() -> None:
    [d] = _check(BASE.replace("region: us-east1, ", ""))
    assert (d.line, d.column, d.code) == (8, 7, "SG102")
    assert d.message == "missing required key `region` in spec.clusters[1]"


def test_float_version_names_the_float_and_says_to_quote() -> None:
    [d] = _check(BASE.replace('kubernetesVersion: "1.31", roles: [serving]', "kubernetesVersion: 1.30, roles: [serving]"))
    assert (d.line, d.column, d.code) == (8, 66, "SG108")
    assert d.hint == 'quote it: kubernetesVersion: "1.30"'


def test_every_error_at_once_sorted_by_position() -> None:
    text = BASE.replace("engine: flux", "engine: flx").replace("cloud: gcp", "cloud: gce") + "  modles: []\n"
    assert _where(_check(text)) == [(5, 20, "SG103"), (8, 24, "SG103"), (9, 3, "SG101")]


def test_cross_references_name_what_would_qualify() -> None:
    text = BASE + """\
  datasets:
    - {name: d, uri: "s3://b/d", cluster: g}
  trainingJobs:
    - {name: j, dataset: d, image: "x/y:1"}
"""
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (12, 26, "SG204")
    assert "clusters that could hold it: a" in (d.hint or "")


def test_selector_typo_gets_a_hint_over_roles_and_cluster_names() -> None:
    [d] = _check(BASE + "  components:\n    kserve: {runsOn: [servng]}\n")
    assert (d.code, d.hint) == ("SG202", "did you mean `serving`?")


def test_credentials_are_masked_everywhere() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = BASE + f"  registry: {{mirror: reg.example.com, password: {secret}}}\n"
    diagnostics = _check(text)
    assert {d.code for d in diagnostics} == {"SG101", "SG301"}
    assert secret not in repr(diagnostics)
    assert "wJal****" in repr(diagnostics)


def test_every_code_is_documented() -> None:
    assert all(code.startswith("SG") and meaning for code, meaning in CODES.items())


# --- properties ---------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
_trees = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=30)
_keys = st.sampled_from(["apiVersion", "kind", "metadata", "spec", "clusters", "components", "datasets", "trainingJobs",
                         "models", "secrets", "name", "cloud", "roles", "runsOn", "serveOn", "dataset", "cluster", "gitops", "store"])
_stacky = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)), max_leaves=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trees, _stacky))
def test_arbitrary_trees_give_only_diagnostics(tree: t.Any) -> None:
    text = yaml.safe_dump({"spec": tree, "apiVersion": "x"} if not isinstance(tree, dict) else tree)
    loaded = load_bytes(text.encode())
    if loaded.ok:
        for diagnostic in validate(loaded):
            assert diagnostic.line >= 1 and diagnostic.code in CODES


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_bundled_stack_gives_only_diagnostics(data: st.DataObject) -> None:
    tree = yaml.safe_load(BUNDLED.read_text())
    spec = tree["spec"]
    section = data.draw(st.sampled_from(["clusters", "datasets", "trainingJobs", "models", "secrets"]))
    items = spec[section]
    item = items[data.draw(st.integers(0, len(items) - 1))]
    key = data.draw(st.sampled_from(sorted(item)))
    item[key] = data.draw(_stacky)
    loaded = load_bytes(yaml.safe_dump(tree).encode())
    assert loaded.ok
    for diagnostic in validate(loaded):
        assert diagnostic.code in CODES
