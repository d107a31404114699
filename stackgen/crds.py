"""CRD openAPIV3Schema -> JSON Schema validators, from CRD objects or CRD files on disk.

Kubernetes structural schemas are OpenAPI v3 with extensions; the differences that matter
for validation are `nullable` and `x-kubernetes-int-or-string`, rewritten here into JSON Schema.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import jsonschema
import yaml

Schema = dict[str, t.Any]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TypeKey = tuple[str, str]  # (apiVersion, kind)


def schemas_from_crds(crds: t.Iterable[t.Mapping[str, t.Any]]) -> dict[TypeKey, Schema]:
    found: dict[TypeKey, Schema] = {}
    for crd in crds:
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd.get("spec", {})
        group, kind = spec.get("group", ""), spec.get("names", {}).get("kind", "")
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served", True) and schema:
                found[(f"{group}/{version['name']}", kind)] = to_json_schema(schema)
    return found


@functools.cache
def schemas_from_dir(root: Path) -> dict[TypeKey, Schema]:
    documents: list[t.Mapping[str, t.Any]] = []
    for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
        documents.extend(d for d in yaml.load_all(path.read_text("utf-8"), Loader=_LOADER) if isinstance(d, dict))
    return schemas_from_crds(documents)


def to_json_schema(node: t.Any) -> t.Any:
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if not key.startswith("x-kubernetes-") and key != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        converted.pop("type", None)
        converted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"] if isinstance(converted["type"], str) else [*converted["type"], "null"]
    return converted


def validator(schema: Schema) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema)


def validate_object(obj: t.Mapping[str, t.Any], schemas: t.Mapping[TypeKey, Schema]) -> list[str] | None:
    """Error messages with their JSON paths; None when no schema covers the object's kind."""
    schema = schemas.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if schema is None:
        return None
    return [f"{error.json_path}: {error.message}" for error in validator(schema).iter_errors(obj)]
