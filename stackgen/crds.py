"""CRD openAPIV3Schema -> JSON Schema validators, from CRD objects or CRD files on disk.

Kubernetes structural schemas are OpenAPI v3 with extensions. What matters for validation is
rewritten here into JSON Schema (draft 7):
  - `nullable: true` -> the type (and any enum) also admits null;
  - `x-kubernetes-int-or-string` -> integer or string;
  - `x-kubernetes-preserve-unknown-fields` / `x-kubernetes-embedded-resource` -> open objects;
  - every other `x-kubernetes-*` key (list/map types, CEL validations) is dropped: the API
    server checks those, a schema validator cannot.
With `strict=True` an object schema that lists its `properties` rejects any other key, as
`kubectl apply --validate=strict` (the default since Kubernetes 1.27) and server-side apply do:
a misspelt field in a generated object is an error, not silently pruned.

Reused by verify (rendered custom resources, SG603) and the GitOps tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import typing as t
from pathlib import Path

import jsonschema

from stackgen import cachefile, yamlio

Schema = dict[str, t.Any]
TypeKey = tuple[str, str]  # (apiVersion, kind)


def schemas_from_crds(crds: t.Iterable[t.Mapping[str, t.Any]], strict: bool = False,
                      text_of: t.Callable[[t.Any], str | None] | None = None) -> dict[TypeKey, Schema]:
    """(group/version, kind) -> JSON Schema, for every served version of every CRD given.
    The schemas are shared between calls given the same CRD: do not mutate them. `text_of`
    gives a CRD's `canonical` text (None: not remembered), where the caller already knows it."""
    found: dict[TypeKey, Schema] = {}
    for crd in crds:
        if not isinstance(crd, t.Mapping) or crd.get("kind") != "CustomResourceDefinition":
            continue
        for key, schema in _converted(crd, strict, (text_of or canonical_or_none)(crd)):
            # The first definition wins, so the result never depends on input order twice over.
            found.setdefault(key, schema)
    return found


_CONVERTED: dict[str, tuple[tuple[TypeKey, Schema], ...]] = {}  # CRD content digest -> its schemas, for this process


def _converted(crd: t.Mapping[str, t.Any], strict: bool, text: str | None) -> tuple[tuple[TypeKey, Schema], ...]:
    # Every cluster of a fleet renders the same CRDs (KServe's, Istio's, Katib's): converted once
    # per process, keyed by content, not once per cluster (5 s of a 20-cluster render).
    digest = "" if text is None else hashlib.sha256(f"{strict}\0{text}".encode()).hexdigest()
    if (known := _CONVERTED.get(digest)) is not None:
        return known
    spec = crd.get("spec") or {}
    group, kind = spec.get("group", ""), (spec.get("names") or {}).get("kind", "")
    schemas = []
    for version in spec.get("versions") or []:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if version.get("served", True) and schema:
            schemas.append(((f"{group}/{version['name']}", kind), to_json_schema(schema, strict)))
    if digest:
        _CONVERTED[digest] = tuple(schemas)
    return tuple(schemas)


def canonical(body: t.Any) -> str:
    """One text per content: keys sorted, and a value JSON has no type for (a YAML date) tagged
    with its type, so it never equals the string it prints as."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_tagged)


def canonical_or_none(body: t.Any) -> str | None:
    try:
        return canonical(body)
    except (TypeError, ValueError):  # keys JSON cannot sort: worked out, never remembered
        return None


def _tagged(value: object) -> dict[str, str]:
    return {"\0type": type(value).__name__, "value": str(value)}


def _schemas_in_dir(root: Path, strict: bool) -> dict[TypeKey, Schema]:
    def compute(texts: t.Sequence[str]) -> dict[TypeKey, Schema]:
        documents: list[t.Mapping[str, t.Any]] = []
        for text in texts:
            documents.extend(d for d in yamlio.load_all(text) if isinstance(d, dict))
        return schemas_from_crds(documents, strict)

    return _cached(root, f"all\0{strict}", compute)


_CACHE_FORMAT = "crd-schemas-1"
_ANSWERS: dict[str, dict[TypeKey, Schema]] = {}  # content digest -> schemas, for this process


def _cached(root: Path, question: str, compute: t.Callable[[t.Sequence[str]], dict[TypeKey, Schema]]) -> dict[TypeKey, Schema]:
    """`compute` over the CRD files' texts, kept as JSON in the user's cache by their content.

    Parsing the mirror's CRDs (megabytes of YAML) and converting them cost more than the rest of
    a warm render; the converted schemas load from JSON in a fraction of that. The key is the
    bytes of every file, so an edited mirror is never answered from an older one.
    """
    files = _crd_files(root)
    texts = [path.read_text("utf-8") for path in files]
    digest = hashlib.sha256(f"{_CACHE_FORMAT}\0{question}\0".encode())
    for path, text in zip(files, texts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + text.encode() + b"\0")
    # In this process too the answer is keyed by the files' bytes, never by the folder's path:
    # a mirror edited (or replaced) while a process runs is read afresh.
    if (known := _ANSWERS.get(digest.hexdigest())) is not None:
        return known
    entry = _cache_dir() / f"{digest.hexdigest()}.json"
    try:
        stored = json.loads(entry.read_text("utf-8"))
        _ANSWERS[digest.hexdigest()] = {(key["apiVersion"], key["kind"]): key["schema"] for key in stored}
        return _ANSWERS[digest.hexdigest()]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    found = compute(texts)
    _ANSWERS[digest.hexdigest()] = found
    try:
        body = json.dumps([{"apiVersion": k[0], "kind": k[1], "schema": v} for k, v in sorted(found.items())], sort_keys=True)
    except (TypeError, ValueError):  # a schema JSON cannot hold (a YAML date in an example) is just not cached
        return found
    cachefile.write_entry(entry, body)
    return found


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackgen" / "crd-schemas"


def _crd_files(root: Path) -> list[Path]:
    return sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]) if root.is_dir() else []


def schema_in_dir(root: Path, key: TypeKey) -> Schema | None:
    """One type's schema from the CRDs under `root`, parsing only the files that name its kind.

    The mirror's CRDs are megabytes of YAML (Argo CD's alone 1.8 MB) and a render uses a few of
    their kinds, so parsing everything would cost verify more than validating the render does.
    """
    return _schemas_naming(Path(root), key[1]).get(key)


def _schemas_naming(root: Path, kind: str) -> dict[TypeKey, Schema]:
    names_kind = re.compile(rf"^\s*kind:\s*['\"]?{re.escape(kind)}['\"]?\s*$", re.MULTILINE)

    def compute(texts: t.Sequence[str]) -> dict[TypeKey, Schema]:
        documents: list[t.Mapping[str, t.Any]] = []
        for text in texts:
            if names_kind.search(text):
                documents.extend(d for d in yamlio.load_all(text) if isinstance(d, dict))
        return schemas_from_crds(documents)

    return _cached(root, f"kind\0{kind}", compute)


def schemas_from_dir(root: Path) -> dict[TypeKey, Schema]:
    """Every CRD under `root` (recursively), read once per process. Do not mutate the result."""
    return _schemas_in_dir(Path(root), False)


def to_json_schema(node: t.Any, strict: bool = False) -> t.Any:
    """An OpenAPI v3 structural schema (with Kubernetes extensions) as draft-7 JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    converted: Schema = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            # Keys of these maps are field names (a field may be called `nullable`): convert values only.
            converted[key] = {name: to_json_schema(sub, strict) for name, sub in value.items()}
        elif key in ("example", "default", "enum", "const"):
            converted[key] = value  # data, never a schema
        else:
            converted[key] = to_json_schema(value, strict)
    if node.get("x-kubernetes-int-or-string"):
        converted.pop("type", None)
        converted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        if "type" in converted:
            types = [converted["type"]] if isinstance(converted["type"], str) else list(converted["type"])
            converted["type"] = types if "null" in types else [*types, "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    open_object = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-embedded-resource")
    if strict and "properties" in node and "additionalProperties" not in node and not open_object:
        converted["additionalProperties"] = False
    if strict and node.get("x-kubernetes-embedded-resource") and "properties" in converted:
        # An embedded object always may carry its own type and metadata.
        for name in ("apiVersion", "kind"):
            converted["properties"].setdefault(name, {"type": "string"})
        converted["properties"].setdefault("metadata", {"type": "object"})
    return converted


def validator(schema: Schema) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema)


def validate_object(obj: t.Mapping[str, t.Any], schemas: t.Mapping[TypeKey, Schema]) -> list[str] | None:
    """Errors as `<JSON path>: <message>`, sorted; [] when valid; None when no schema covers the kind.

    None (not []) lets a caller tell "valid" from "not validated" (verify warns SG601 on the latter).
    """
    schema = schemas.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if schema is None:
        return None
    return sorted(f"{error.json_path}: {error.message}" for error in validator(schema).iter_errors(obj))
