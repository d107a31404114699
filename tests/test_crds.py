"""crds: CRD schemas (OpenAPI v3 + Kubernetes extensions) as JSON Schema, and validation with them."""

from __future__ import annotations

import typing as t
from pathlib import Path

import jsonschema
import pytest
import yaml

from stackgen import crds
from tests.crd_schemas import load_crd_schemas
from tests.upstream import UPSTREAM

CRDS = UPSTREAM / "crds"
requires_crds = pytest.mark.skipif(
    not CRDS.is_dir(),
    reason=f"needs the pinned CRDs at {CRDS} (../shared/upstream/crds beside the repo, or $STACKGEN_UPSTREAM/crds); absent here",
)


def _crd(schema: dict[str, t.Any], served: bool = True, version: str = "v1", kind: str = "Widget") -> dict[str, t.Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": kind, "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": version, "served": served, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


WIDGET: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": True},
                "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
                "nullable": {"type": "boolean"},  # a field that happens to be called like a keyword
                "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True,
                             "properties": {"spec": {"type": "object"}}},
            },
            "x-kubernetes-validations": [{"rule": "self.size != 0"}],
        },
    },
}


def _widget(spec: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_kubernetes_extensions_become_json_schema() -> None:
    schema = crds.to_json_schema(WIDGET)
    jsonschema.Draft7Validator.check_schema(schema)
    spec = schema["properties"]["spec"]
    assert "x-kubernetes-validations" not in spec
    assert spec["properties"]["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["note"]["type"] == ["string", "null"]
    assert spec["properties"]["mode"]["enum"] == ["a", "b", None]
    assert spec["properties"]["nullable"] == {"type": "boolean"}
    assert "x-kubernetes-list-type" not in spec["properties"]["ports"]


@pytest.mark.parametrize(
    ("spec", "errors"),
    [
        ({"size": 3, "note": None, "mode": None, "values": {"any": {"thing": 1}}}, []),
        ({"size": "50%"}, []),
        ({"size": 1.5}, ["$.spec.size: 1.5 is not valid under any of the given schemas"]),
        ({}, ["$.spec: 'size' is a required property"]),
        ({"size": 1, "mode": "c"}, ["$.spec.mode: 'c' is not one of ['a', 'b', None]"]),
    ],
)
def test_validate_object_reports_json_paths(spec: dict[str, t.Any], errors: list[str]) -> None:
    schemas = crds.schemas_from_crds([_crd(WIDGET)])
    assert crds.validate_object(_widget(spec), schemas) == errors


def test_strict_rejects_unknown_fields_except_where_preserved() -> None:
    loose, strict = crds.schemas_from_crds([_crd(WIDGET)]), crds.schemas_from_crds([_crd(WIDGET)], strict=True)
    typo = _widget({"size": 1, "sise": 2})
    assert crds.validate_object(typo, loose) == []
    assert crds.validate_object(typo, strict) == ["$.spec: Additional properties are not allowed ('sise' was unexpected)"]
    open_ended = _widget({"size": 1, "values": {"free": "form"}, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}})
    assert crds.validate_object(open_ended, strict) == []
    assert crds.validate_object({**_widget({"size": 1}), "extra": True}, strict) != []


def test_unknown_kinds_and_unserved_versions_are_not_validated() -> None:
    schemas = crds.schemas_from_crds([_crd(WIDGET, served=False), {"kind": "ConfigMap"}, "not a mapping"])  # type: ignore[list-item]
    assert schemas == {}
    assert crds.validate_object(_widget({"size": 1}), schemas) is None


def test_load_crd_schemas_reads_folders_and_the_first_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b" / "nested"
    second.mkdir(parents=True)
    first.mkdir()
    (first / "widget.yaml").write_text(yaml.safe_dump(_crd(WIDGET)))
    other = {"type": "object", "properties": {"spec": {"type": "string"}}}
    (second / "widget.yml").write_text("---\n" + yaml.safe_dump(_crd(other)) + "---\n" + yaml.safe_dump(_crd(other, version="v2")))
    schemas = load_crd_schemas([first, second, tmp_path / "missing"])
    assert sorted(schemas) == [("example.com/v1", "Widget"), ("example.com/v2", "Widget")]
    assert schemas[("example.com/v1", "Widget")]["properties"]["spec"]["type"] == "object"
    assert load_crd_schemas(second)[("example.com/v1", "Widget")]["properties"]["spec"] == {"type": "string"}


@requires_crds
def test_every_pinned_crd_converts_to_a_valid_draft7_schema() -> None:
    for strict in (False, True):
        schemas = load_crd_schemas([CRDS], strict=strict)
        assert {
            ("argoproj.io/v1alpha1", "Application"),
            ("argoproj.io/v1alpha1", "AppProject"),
            ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
            ("source.toolkit.fluxcd.io/v1", "GitRepository"),
            ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
            ("external-secrets.io/v1", "ExternalSecret"),
            ("external-secrets.io/v1", "SecretStore"),
        } <= set(schemas)
        for key, schema in schemas.items():
            jsonschema.Draft7Validator.check_schema(schema)
            assert "x-kubernetes" not in repr(schema), key


@requires_crds
def test_the_real_application_crd_catches_a_misspelt_field() -> None:
    schemas = load_crd_schemas([CRDS], strict=True)
    app: dict[str, t.Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/a/b.git", "path": "x", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc"},
            "syncPolicy": {"syncOptions": ["ServerSideApply=true"], "retry": {"limit": 3, "backoff": {"duration": "5s", "factor": 2}}},
        },
    }
    assert crds.validate_object(app, schemas) == []
    app["spec"]["syncPolicy"]["automatic"] = {"prune": True}  # should be `automated`
    assert crds.validate_object(app, schemas) == ["$.spec.syncPolicy: Additional properties are not allowed ('automatic' was unexpected)"]
    del app["spec"]["destination"]
    assert "$.spec: 'destination' is a required property" in (crds.validate_object(app, schemas) or [])


def test_one_kind_is_found_without_reading_the_other_files(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(yaml.safe_dump(_crd(WIDGET)))
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")  # parsed only if it named the kind
    assert crds.schema_in_dir(tmp_path, ("example.com/v1", "Widget")) == crds.schemas_from_crds([_crd(WIDGET)])[("example.com/v1", "Widget")]
    assert crds.schema_in_dir(tmp_path, ("example.com/v2", "Widget")) is None
    assert crds.schema_in_dir(tmp_path / "missing", ("example.com/v1", "Widget")) is None


@requires_crds
def test_one_kind_from_the_pinned_crds_equals_the_whole_reading() -> None:
    everything = load_crd_schemas([CRDS])
    for key in (("external-secrets.io/v1", "SecretStore"), ("argoproj.io/v1alpha1", "Application"), ("helm.toolkit.fluxcd.io/v2", "HelmRelease")):
        assert crds.schema_in_dir(CRDS, key) == everything[key]


def test_converted_schemas_are_cached_by_the_crds_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "crds"
    root.mkdir()
    crd = root / "widget.yaml"
    crd.write_text(yaml.safe_dump(_crd({"type": "object", "properties": {"size": {"type": "integer"}}})))
    cold = crds._cached(root, "test", lambda texts: crds.schemas_from_crds(yaml.safe_load(t) for t in texts))
    [entry] = (tmp_path / "cache" / "stackgen" / "crd-schemas").iterdir()
    warm = crds._cached(root, "test", lambda texts: pytest.fail("answered from the cache, not computed"))
    assert warm == cold and ("example.com/v1", "Widget") in warm
    # An edited CRD is a new key: never answered from the older entry.
    crd.write_text(yaml.safe_dump(_crd({"type": "object", "properties": {"size": {"type": "string"}}})))
    edited = crds._cached(root, "test", lambda texts: crds.schemas_from_crds(yaml.safe_load(t) for t in texts))
    assert edited[("example.com/v1", "Widget")]["properties"]["size"] == {"type": "string"}
    # A damaged entry costs a recomputation, nothing else.
    for stored in entry.parent.iterdir():
        stored.write_text("{not json")
    assert crds._cached(root, "test", lambda texts: crds.schemas_from_crds(yaml.safe_load(t) for t in texts)) == edited


def test_a_crd_folder_edited_while_the_process_runs_is_read_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Answers are remembered by the files' bytes, not by the folder's path (issue 16).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "crds"
    root.mkdir()
    for size_type in ("integer", "string", "integer"):
        (root / "widget.yaml").write_text(yaml.safe_dump(_crd({"type": "object", "properties": {"size": {"type": size_type}}})))
        schema = crds.schema_in_dir(root, ("example.com/v1", "Widget"))
        assert schema is not None and schema["properties"]["size"] == {"type": size_type}
