"""validate: the JSON Schema (the one source of truth), then cross-references and credentials.

Every problem is reported at once, sorted by position, at the node that causes it: an unknown
key at the key, a missing key at its parent mapping, a wrong value at the value. Messages are
written here, never taken from jsonschema, whose messages echo values (which may be secrets),
and every field of every diagnostic passes through `_redact` before it leaves this module.

Codes, their meaning and an example of each: stackgen/codes.py (published in docs/reference.md).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import json
import re
import typing as t
import unicodedata

from stackgen import credentials, ecma, releases
from stackgen.diagnostics import Diagnostic, JsonPath, Severity, json_path
from stackgen.load import Loaded
from stackgen.model import DEFAULT_NAMESPACE, ROLES
from stackgen.schemafile import schema_text as schema_text

if t.TYPE_CHECKING:
    import jsonschema


@functools.cache
def load_schema() -> dict[str, t.Any]:
    schema: dict[str, t.Any] = json.loads(schema_text())
    return schema


def _ecma_pattern(validator: t.Any, pattern: str, instance: t.Any, schema: t.Any) -> t.Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not ecma.compile_pattern(pattern).search(instance):
        yield _error(f"does not match {pattern!r}")


def _error(message: str) -> jsonschema.ValidationError:
    import jsonschema

    return jsonschema.ValidationError(message)


def _hashable(value: t.Any) -> t.Hashable:
    """A canonical form that is equal exactly where JSON Schema calls two instances equal: 1 and
    1.0 are, true and 1 are not, mappings are compared by content whatever their key order."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, dict):
        return ("mapping", frozenset((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_hashable(item) for item in value))
    return (type(value).__name__, value)


def _unique_items(validator: t.Any, unique: bool, instance: t.Any, schema: t.Any) -> t.Iterator[jsonschema.ValidationError]:
    # jsonschema compares every pair of unhashable items (6,000 mappings: 51 s); a set of
    # canonical forms does it in one pass.
    if not (unique and validator.is_type(instance, "array")):
        return
    seen: set[t.Hashable] = set()
    for item in instance:
        form = _hashable(item)
        if form in seen:
            yield _error("has non-unique elements")
            return
        seen.add(form)


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    # Imported here: a build that answers from its record (buildcache) validates nothing.
    import jsonschema

    # Draft-07 with `pattern` read as ECMA-262, like the editors and ajv (stackgen/ecma.py says
    # why), and `uniqueItems` in linear time.
    draft7_ecma = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _ecma_pattern, "uniqueItems": _unique_items})
    validator: jsonschema.Draft7Validator = draft7_ecma(load_schema())
    return validator


@dataclasses.dataclass(frozen=True)
class _Item:
    """A diagnostic with its JSON path kept as a tuple, so filters need not parse strings."""

    path: JsonPath
    diagnostic: Diagnostic


MAX_SUGGESTIONS = 50
"""Spelling searches ("did you mean ...?") per file."""


class _Report:
    """Collects diagnostics for one file, placing each at its node."""

    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.items: list[_Item] = []
        self.suggestions_left = MAX_SUGGESTIONS

    def did_you_mean(self, word: str, options: t.Iterable[str]) -> str | None:
        """A spelling hint, for the first MAX_SUGGESTIONS names only: each search reads every
        option, so unbounded, 10,000 unknown selectors over 10,000 clusters would be quadratic."""
        if self.suggestions_left <= 0:
            return None
        self.suggestions_left -= 1
        return _did_you_mean(word, options)

    def at_value(self, path: JsonPath, code: str, message: str, hint: str | None = None, severity: Severity = "error") -> None:
        self._add(self.loaded.source.value_at(path), path, code, message, hint, severity)

    def at_key(self, path: JsonPath, code: str, message: str, hint: str | None = None) -> None:
        self._add(self.loaded.source.key_at(path), path, code, message, hint, "error")

    def _add(self, position: t.Any, path: JsonPath, code: str, message: str, hint: str | None, severity: Severity) -> None:
        diagnostic = Diagnostic(self.loaded.file, position.line, position.column, severity, code, message, json_path(path), hint)
        self.items.append(_Item(path, diagnostic))


def validate(loaded: Loaded) -> list[Diagnostic]:
    """Schema errors, cross-reference errors and literal credentials, all at once, sorted."""
    if not loaded.ok:  # nothing to validate: the loader's own diagnostics say why
        return sorted(loaded.diagnostics)
    report = _Report(loaded)
    for error in _validator().iter_errors(loaded.tree):
        _schema_error(report, error)
    _whole_floats(report, loaded.tree, (), {item.path for item in report.items})
    schema_clean = not report.items
    _cross_references(report, loaded.tree)
    if schema_clean:  # the wave checks read the tree as the schema shapes it
        for finding in releases.wave_findings(loaded.tree["spec"]):
            report.at_value(finding.path, finding.code, finding.message, finding.hint)
    _credentials(report, loaded.tree, ())
    return sorted({_redacted(item.diagnostic) for item in _without_echoes(report.items)})


def _without_echoes(items: list[_Item]) -> list[_Item]:
    """Drop errors that only restate another at the same node: a credential's pattern error,
    an enum error beside the type error for the same value, and "missing `region`" beside the
    unknown key `regoin` that was meant to be it."""
    codes_at: dict[JsonPath, set[str]] = {}
    for item in items:
        codes_at.setdefault(item.path, set()).add(item.diagnostic.code)
    meant = {item.path[:-1] + (_quoted(item.diagnostic.hint or ""),) for item in items if item.diagnostic.code == "SG101"}
    kept = []
    for item in items:
        code, others = item.diagnostic.code, codes_at[item.path]
        if (code == "SG105" and "SG301" in others) or (code == "SG103" and others & {"SG104", "SG108"}):
            continue
        if code == "SG102" and item.path + (_quoted(item.diagnostic.message),) in meant:
            continue
        kept.append(item)
    return kept


def _quoted(text: str) -> str:
    """The first `name` in a message or hint."""
    parts = text.split("`")
    return parts[1] if len(parts) > 2 else ""


# --- schema errors -----------------------------------------------------------------------


def _did_you_mean(word: str, options: t.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _where(path: JsonPath) -> str:
    return json_path(path)[2:] or "the top level"


def _name(path: JsonPath) -> str:
    named = [p for p in path if isinstance(p, str)]
    return named[-1] if named else "value"


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string"


_EXPECTED = {"string": "a string", "integer": "an integer", "object": "a mapping", "array": "a list", "boolean": "true or false", "number": "a number"}


def _shown(value: object) -> str:
    """A value for a message: short, and redacted before JSON escaping could hide a secret's shape."""
    if isinstance(value, str):
        return _clip(json.dumps(_redact(value), ensure_ascii=False))
    return _clip(str(value))


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _schema_error(report: _Report, error: jsonschema.ValidationError) -> None:
    path: JsonPath = tuple(error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind in ("oneOf", "anyOf") and error.context:
        # best_match descends into the branch that fits the value's type, then its deepest error.
        from jsonschema.exceptions import best_match

        _schema_error(report, best_match([error]))
    elif kind == "additionalProperties" and isinstance(value, dict):
        _unknown_keys(report, path, value, set(error.schema.get("properties", {})))
    elif kind == "required" and isinstance(value, dict):
        for key in expected:
            if key not in value:
                report.at_value(path, "SG102", f"missing required key `{key}` in {_where(path)}")
    elif kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        report.at_value(path, "SG103", f"`{_name(path)}` must be one of {choices}; got {_shown(value)}",
                        report.did_you_mean(str(value), [str(c) for c in expected]))
    elif kind == "const":
        report.at_value(path, "SG103", f"`{_name(path)}` must be `{expected}`; got {_shown(value)}")
    elif kind == "type":
        _type_error(report, path, expected, value)
    elif kind == "pattern":
        _pattern_error(report, path, value)
    elif kind in _RANGE_KINDS:
        report.at_value(path, "SG106", _range_message(kind, expected, path, value))
    else:
        report.at_value(path, "SG105", f"`{_name(path)}` is not valid here")


MAX_UNKNOWN_KEYS = 20
"""Unknown keys reported one by one in a mapping; the rest are counted in one more diagnostic
(100,000 stray keys would otherwise print 100,000 lines, each with its own spelling search)."""


def _whole_floats(report: _Report, node: t.Any, path: JsonPath, reported: set[JsonPath]) -> None:
    """A float is never an integer here. Draft-07 (and ajv, where JSON has one number type)
    calls 4.0 an integer, and stackgen would write `numNodes: 4.0`; the schema has no `number`
    field, so every whole float the schema let through stood where an integer is meant."""
    if isinstance(node, dict):
        for key, value in node.items():
            _whole_floats(report, value, path + (key,), reported)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _whole_floats(report, value, path + (index,), reported)
    elif isinstance(node, float) and node.is_integer() and path not in reported:
        report.at_value(path, "SG104", f"`{_name(path)}` must be an integer; got a float", f"write {int(node)}")


def _unknown_keys(report: _Report, path: JsonPath, value: dict[str, t.Any], allowed: set[str]) -> None:
    unknown = [key for key in value if key not in allowed]  # in document order: the first ones are reported
    for key in unknown[:MAX_UNKNOWN_KEYS]:
        if path == ("spec", "components"):
            report.at_key(path + (key,), "SG107", f"unknown component `{key}`", report.did_you_mean(key, allowed))
        else:
            report.at_key(path + (key,), "SG101", f"unknown key `{key}` in {_where(path)}", report.did_you_mean(key, allowed))
    if len(unknown) > MAX_UNKNOWN_KEYS:
        more = len(unknown) - MAX_UNKNOWN_KEYS
        report.at_key(path + (unknown[MAX_UNKNOWN_KEYS],), "SG101",
                      f"... and {more} more unknown key{'s' if more != 1 else ''} in {_where(path)} (not listed)")


def _type_error(report: _Report, path: JsonPath, expected: t.Any, value: object) -> None:
    if _name(path) == "kubernetesVersion" and isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML reads 1.30 as the float 1.3: the message says what YAML saw, the hint what was meant.
        report.at_value(
            path, "SG108",
            f"`kubernetesVersion` must be a string like \"1.31\"; YAML read {value!r} as {_type_name(value)}",
            hint=f'quote it: kubernetesVersion: "{_version_guess(value)}"',
        )
        return
    wanted = " or ".join(_EXPECTED.get(e, e) for e in ([expected] if isinstance(expected, str) else expected))
    hint = "quote it" if wanted == "a string" and isinstance(value, (int, float, bool, datetime.date)) else None
    report.at_value(path, "SG104", f"`{_name(path)}` must be {wanted}; got {_type_name(value)}", hint)


def _version_guess(value: float | int) -> str:
    text = repr(float(value))
    # 1.3 was almost surely written 1.30: YAML drops the trailing zero.
    return text + "0" if text in ("1.1", "1.2", "1.3") else text


_PATTERN_MEANING: t.Mapping[str, str] = {
    "name": "a DNS-1123 label (lowercase letters, digits and `-`, starting and ending alphanumeric)",
    "cluster": "a cluster name (a DNS-1123 label)",
    "dataset": "a dataset name (a DNS-1123 label)",
    "namespace": "a namespace name (a DNS-1123 label)",
    "runtime": "a runtime name (a DNS-1123 label)",
    "region": "a region or site name (lowercase letters, digits and `-`)",
    "image": "an image reference pinned by a version tag or digest (`repo/name:1.4` or `@sha256:...`; `latest` moves, so it pins nothing)",
    "key": "a key without control or bidirectional-formatting characters",
    "uri": "a storage URI (s3://, gs://, az://, abfss://, hf://, https:// or pvc://)",
    "storageUri": "a storage URI KServe's storage initializer reads (s3://, gs://, hf://, https:// or pvc://)",
    "repoURL": "a git URL (https://, ssh:// or git@host:path) without credentials",
    "revision": "a branch, tag or commit without spaces",
    "server": "an https:// URL of the API server (port 1 to 65535)",
    "awsRoleArn": "an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)",
    "gcpServiceAccount": "a service-account e-mail (<name>@<project>.iam.gserviceaccount.com)",
    "azureClientId": "a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
    "azureTenantId": "a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
    "oidcIssuer": "an EKS OIDC issuer (https://oidc.eks.<region>.amazonaws.com/id/<ID>)",
    "ingressHost": "a DNS host name (labels of at most 63 characters, 253 in all)",
    "s3Endpoint": "an http:// or https:// URL",
    "s3Credentials": "a secret name (a DNS-1123 label)",
    "credentials": "a secret name (a DNS-1123 label)",
    # database.host is a host alone; an LDAP connector's host carries its port.
    "host": "a host name or IPv4 address (database), or host:port (LDAP: ldap.example.com:636)",
    "bucket": "a bucket name (3 to 63 lowercase letters, digits, `.` and `-`)",
    "endpoint": "an http:// or https:// URL of scheme, host and port only",
    "valueAs": "a Secret key (letters, digits, `-`, `_`, `.`)",
    "storageClass": "a StorageClass name (a DNS-1123 subdomain)",
    "type": "a GPU model in lowercase (a100, h100, l4, mi300x)",
    "size": "a Kubernetes quantity such as 500Gi or 150Ti",
    "path": "a relative path without `..`",
    "mirror": "a registry host with an optional path, without a scheme (registry.example.com/kubeflow)",
    "owner": "an e-mail address (what the sign-on provider sends as the user id)",
    "user": "an e-mail address (what the sign-on provider sends as the user id)",
    "issuer": "an https:// URL",
    "ssoURL": "an https:// URL",
    "email": "an e-mail address",
    "clusterIssuer": "a ClusterIssuer name (a DNS-1123 subdomain)",
    "hostedZoneID": "a Route 53 hosted zone id (Z followed by capitals and digits)",
    "project": "a GCP project id",
    "subscriptionID": "a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
}
# `key` inside a secret reference (spec.signOn) names a key of a Kubernetes Secret.
_SECRET_KEY_REFERENCES = frozenset({"clientSecretRef", "bindPasswordRef", "rootCARef", "caRef"})


def _pattern_error(report: _Report, path: JsonPath, value: object) -> None:
    field = _name(path)
    if field == "kubernetesVersion" and isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value):
        report.at_value(path, "SG106", f"`kubernetesVersion` must be between 1.25 and 1.37; got {_shown(value)}")
        return
    if field == "kubernetesVersion":
        report.at_value(path, "SG105", f"`kubernetesVersion` must be a minor version like \"1.31\"; got {_shown(value)}")
        return
    described = _PATTERN_MEANING.get(field, "well formed")
    if field == "key" and len(path) > 1 and path[-2] in _SECRET_KEY_REFERENCES:
        described = _PATTERN_MEANING["valueAs"]
    hint = None
    if field == "storageUri" and isinstance(value, str) and value.startswith(("az://", "abfss://")):
        hint = "KServe 26.03 reads Azure Blob storage as https://<account>.blob.core.windows.net/<container>/<path>"
    report.at_value(path, "SG105", f"`{field}` must be {described}; got {_shown(value)}{_foreign_character(value)}", hint)


def _foreign_character(value: object) -> str:
    """Name the first non-ASCII character: a Cyrillic `а` in `аws-use1` looks right in any editor."""
    if not isinstance(value, str):
        return ""
    found = next(((i, ch) for i, ch in enumerate(value) if not ch.isascii()), None)
    if found is None:
        return ""
    index, character = found
    return f" (character {index + 1} is U+{ord(character):04X} {unicodedata.name(character, 'unnamed')}, not ASCII)"


_RANGE_KINDS = ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "uniqueItems")


def _range_message(kind: str, expected: t.Any, path: JsonPath, value: object) -> str:
    field = _name(path)
    return {
        "minItems": f"`{field}` needs at least {expected} item{'s' if expected != 1 else ''}",
        "maxItems": f"`{field}` takes at most {expected} items",
        "minLength": f"`{field}` must not be empty" if expected == 1 else f"`{field}` needs at least {expected} characters",
        "maxLength": f"`{field}` is longer than {expected} characters",
        "minimum": f"`{field}` must be at least {expected}; got {_shown(value)}",
        "maximum": f"`{field}` must be at most {expected}; got {_shown(value)}",
        "uniqueItems": f"`{field}` lists the same item twice",
    }[kind]


# --- cross-references --------------------------------------------------------------------
#
# These run on trees the schema may have rejected, so every access is defensive: items that
# are not mappings and values that are not strings are skipped (the schema reported them).


def _items(spec: t.Mapping[str, t.Any], key: str) -> list[tuple[int, dict[str, t.Any]]]:
    value = spec.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _text(item: t.Mapping[str, t.Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _namespace(item: t.Mapping[str, t.Any]) -> object:
    return item.get("namespace", DEFAULT_NAMESPACE)


@dataclasses.dataclass(frozen=True)
class _Fleet:
    """What references resolve against: cluster names and their roles, and datasets. Where
    things land is place's to decide, on the typed model; this only tells a name from a typo."""

    roles_of: t.Mapping[str, frozenset[str]]
    datasets: t.Mapping[str, tuple[int, dict[str, t.Any]]]
    with_role: t.Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)


def _fleet(spec: t.Mapping[str, t.Any]) -> _Fleet:
    roles_of: dict[str, frozenset[str]] = {}
    for _, cluster in _items(spec, "clusters"):
        name = _text(cluster, "name")
        if name is None:
            continue
        roles = cluster.get("roles")
        valid = isinstance(roles, list) and all(isinstance(r, str) and r in ROLES for r in roles)
        # A cluster whose roles are malformed (already reported) counts as having every role, so
        # its mistake does not cascade into "no cluster has role ..." elsewhere.
        roles_of[name] = roles_of.get(name, frozenset()) | frozenset(roles if valid else ROLES)  # type: ignore[arg-type]
    datasets: dict[str, tuple[int, dict[str, t.Any]]] = {}
    for index, dataset in _items(spec, "datasets"):
        name = _text(dataset, "name")
        if name is not None:
            datasets.setdefault(name, (index, dataset))
    with_role: dict[str, set[str]] = {}
    for name, roles in roles_of.items():
        for role in roles:
            with_role.setdefault(role, set()).add(name)
    return _Fleet(roles_of, datasets, {role: frozenset(names) for role, names in with_role.items()})


def _cross_references(report: _Report, tree: t.Any) -> None:
    spec = tree.get("spec") if isinstance(tree, dict) else None
    if not isinstance(spec, dict):
        return
    fleet = _fleet(spec)
    for key in ("clusters", "datasets", "trainingJobs", "models", "tenants"):
        _duplicates(report, spec, key, lambda item: _text(item, "name"))
    _duplicates(report, spec, "secrets", lambda item: f"{_namespace(item)}/{item['name']}" if _text(item, "name") else None)
    hub = isinstance(spec.get("gitops"), dict) and spec["gitops"].get("topology") == "hub"
    for index, cluster in _items(spec, "clusters"):
        _cluster_fits(report, index, cluster)
        if hub and "server" not in cluster:
            report.at_value(("spec", "clusters", index), "SG210",
                            f"cluster `{cluster.get('name')}` has no `server`; the hub topology deploys to each cluster's API server",
                            "add `server: https://<api-server>:443`")
    components = spec.get("components")
    if isinstance(components, dict):
        for component, body in components.items():
            if isinstance(body, dict):
                _selectors(report, ("spec", "components", component, "runsOn"), body.get("runsOn"), fleet)
    for index, dataset in _items(spec, "datasets"):
        where = _text(dataset, "cluster")
        if where is not None and where not in fleet.roles_of:
            report.at_value(("spec", "datasets", index, "cluster"), "SG202", f"dataset `{dataset.get('name')}` is on unknown cluster `{where}`",
                            report.did_you_mean(where, fleet.roles_of))
    for index, job in _items(spec, "trainingJobs"):
        _job_dataset(report, index, job, fleet)
    for index, model in _items(spec, "models"):
        _selectors(report, ("spec", "models", index, "serveOn"), model.get("serveOn"), fleet)
    for index, secret in _items(spec, "secrets"):
        _selectors(report, ("spec", "secrets", index, "runsOn"), secret.get("runsOn"), fleet)
    profiles = components.get("profiles") if isinstance(components, dict) else None
    example = isinstance(profiles, dict) and profiles.get("exampleProfile") is True
    for index, tenant in _items(spec, "tenants"):
        _selectors(report, ("spec", "tenants", index, "clusters"), tenant.get("clusters"), fleet)
        _tenant_name(report, index, tenant, example)
    _claims(report, spec, fleet)


def _duplicates(report: _Report, spec: t.Mapping[str, t.Any], key: str, name_of: t.Callable[[dict[str, t.Any]], str | None]) -> None:
    first: dict[str, int] = {}
    kind = "training job" if key == "trainingJobs" else key[:-1]
    for index, item in _items(spec, key):
        name = name_of(item)
        if name is None:
            continue
        if name in first:
            earlier = report.loaded.source.value_at(("spec", key, first[name], "name"))
            report.at_value(("spec", key, index, "name"), "SG201", f"duplicate {kind} name `{name}` (first at line {earlier.line})")
        else:
            first[name] = index


def _selectors(report: _Report, path: JsonPath, selectors: object, fleet: _Fleet) -> None:
    """Report selectors that name neither a role nor a cluster, and roles no cluster has yet."""
    if not isinstance(selectors, list):
        return
    for index, selector in enumerate(selectors):
        if not isinstance(selector, str) or selector in fleet.roles_of:
            continue
        if selector in ROLES:
            if not fleet.with_role.get(selector):
                # A fleet may declare a role before its first cluster exists (DESIGN's own example
                # runs kserve on `edge` with no edge cluster): say so, do not fail.
                report.at_value(path + (index,), "SG209", f"no cluster has role `{selector}` (yet); this selector matches nothing",
                                severity="warning")
            continue
        report.at_value(path + (index,), "SG202", f"`{selector}` is neither a role nor a cluster name",
                        report.did_you_mean(selector, [*fleet.roles_of, *ROLES]) or f"roles: {', '.join(ROLES)}")


def _job_dataset(report: _Report, index: int, job: t.Mapping[str, t.Any], fleet: _Fleet) -> None:
    name = _text(job, "dataset")
    path = ("spec", "trainingJobs", index, "dataset")
    if name is None:
        return
    if name not in fleet.datasets:
        report.at_value(path, "SG202", f"training job `{job.get('name')}` reads unknown dataset `{name}`", report.did_you_mean(name, fleet.datasets))


_CLOUDS = ("aws", "gcp", "azure", "onprem")
_IDENTITY_CLOUD = {"awsRoleArn": "aws", "gcpServiceAccount": "gcp", "azureClientId": "azure"}
_CLOUD_NAMES = {"aws": "an AWS", "gcp": "a GCP", "azure": "an Azure"}
_EKS_ISSUER_REGION = re.compile(r"https://oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com/")


def _cluster_fits(report: _Report, index: int, cluster: t.Mapping[str, t.Any]) -> None:
    path = ("spec", "clusters", index)
    name, cloud = cluster.get("name"), cluster.get("cloud")
    if name in ROLES:
        report.at_value(path + ("name",), "SG203", f"cluster `{name}` is named like a role; selectors could not tell them apart", "rename the cluster")
    elif name in _CLOUDS:
        # Units are named <component>-<cloud> where they vary by cloud and <component>-<cluster>
        # where they vary by cluster: a cluster named `aws` would make both `kserve-aws`.
        report.at_value(path + ("name",), "SG203", f"cluster `{name}` is named like a cloud; its own units would take the names "
                        "of the per-cloud ones", "rename the cluster, e.g. `" + f"{name}-1`")
    if cloud not in ("aws", "gcp", "azure", "onprem"):
        return  # the schema reports the cloud; identity cannot be judged against it
    identity = cluster.get("identity")
    for key in identity if isinstance(identity, dict) else ():
        if key in _IDENTITY_CLOUD and _IDENTITY_CLOUD[key] != cloud:
            report.at_key(path + ("identity", key), "SG206",
                          f"`{key}` is {_CLOUD_NAMES[_IDENTITY_CLOUD[key]]} identity, but cluster `{name}` runs on {cloud}")
    issuer, region = _text(cluster, "oidcIssuer"), _text(cluster, "region")
    if issuer is None:
        return
    if cloud != "aws":
        report.at_key(path + ("oidcIssuer",), "SG206", f"`oidcIssuer` is for EKS clusters; `{name}` runs on {cloud}")
    elif (match := _EKS_ISSUER_REGION.match(issuer)) and region is not None and match.group(1) != region:
        report.at_value(path + ("oidcIssuer",), "SG206", f"`oidcIssuer` is in region {match.group(1)}, but cluster `{name}` is in {region}",
                        f"use the issuer of the EKS cluster in {region}")


# Namespaces a tenant's Profile must not take. The profile controller creates the Profile's
# namespace and refuses one that exists without its owner annotation ("namespace already exist,
# but not owned by profile creator": kubeflow/dashboard components/profile-controller/
# controllers/profile_controller.go), and taking over a namespace Kubernetes, Kubeflow, the GitOps
# engine or an add-on lives in would hand its objects to the tenant's owner. `ml` is stackgen's
# default workload namespace, which stackgen creates itself.
SYSTEM_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease",  # Kubernetes
    "kubeflow", "kubeflow-system", "istio-system", "auth", "oauth2-proxy", "cert-manager", "knative-serving",  # Kubeflow 26.03
    "knative-eventing", "kserve", DEFAULT_NAMESPACE,
    "argocd", "flux-system", "external-secrets", "gpu-operator", "kube-amd-gpu",  # engines and add-ons stackgen installs
})


EXAMPLE_PROFILE = "kubeflow-user-example-com"  # common/user-namespace/base/profile-instance.yaml


def _tenant_name(report: _Report, index: int, tenant: t.Mapping[str, t.Any], example: bool) -> None:
    """SG260: a tenant named like a namespace Kubernetes, Kubeflow or stackgen already uses, or
    like upstream's example Profile where `exampleProfile` deploys it."""
    name = _text(tenant, "name")
    if name is None:
        return
    if example and name == EXAMPLE_PROFILE:
        report.at_value(("spec", "tenants", index, "name"), "SG260",
                        f"tenant `{name}` is upstream's example Profile, which components.profiles.exampleProfile deploys too",
                        "rename the tenant, or turn exampleProfile off")
        return
    if name in SYSTEM_NAMESPACES or name.startswith("kube-"):
        report.at_value(("spec", "tenants", index, "name"), "SG260",
                        f"tenant `{name}` would take namespace `{name}`, which "
                        + ("stackgen's workloads use by default" if name == DEFAULT_NAMESPACE else "Kubernetes, Kubeflow or an add-on already uses")
                        + "; the profile controller refuses a namespace it did not create", "rename the tenant, e.g. `team-" + name + "`")


# --- names that become files and objects -------------------------------------------------
#
# Names reach the cluster's own folder as `<kind>-<namespace>-<name>.yaml` and the cluster as
# objects. Two declarations that map to one file would silently keep only one of them
# (`a-b/c` and `a/b-c` are both `a-b-c`), so every such name is checked here, where it can be
# located, for collisions and for the limits of file names and Kubernetes names.

MAX_FILE_NAME = 255
"""Longest file name (bytes) on Linux, macOS and Windows file systems alike."""
# A PVC is named by a DNS-1123 subdomain (Kubernetes' IsDNS1123Subdomain), at most 253 long.
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")


def _claim_of(uri: str | None) -> str | None:
    return uri[len("pvc://"):].split("/", 1)[0] if uri is not None and uri.startswith("pvc://") else None


def _bad_claim(claim: str) -> bool:
    return len(claim) > 253 or _SUBDOMAIN.fullmatch(claim) is None


def _claims(report: _Report, spec: t.Mapping[str, t.Any], fleet: _Fleet) -> None:
    """Every claim is a PVC name, and each PVC file of a cluster is one claim with one size."""
    for key, field in (("datasets", "uri"), ("models", "storageUri")):
        for index, item in _items(spec, key):
            claim = _claim_of(_text(item, field))
            if claim is not None and _bad_claim(claim):
                report.at_value(("spec", key, index, field), "SG105",
                                f"claim `{_clip(claim, 60)}` in `{field}` must be a PVC name: a DNS-1123 subdomain "
                                "(lowercase letters, digits, `-` and `.` between them, at most 253 characters)")
    files: dict[tuple[str, str], tuple[str, str, object, int]] = {}  # (cluster, file) -> namespace, claim, size, job
    for index, job in _items(spec, "trainingJobs"):
        found = fleet.datasets.get(str(job.get("dataset")))
        namespace = _namespace(job)
        claim = _claim_of(_text(found[1], "uri")) if found else None
        cluster = _text(found[1], "cluster") if found else None
        if found is None or claim is None or cluster is None or _bad_claim(claim) or not isinstance(namespace, str):
            continue
        path = ("spec", "trainingJobs", index, "dataset")
        name = f"pvc-{namespace}-{claim}.yaml"
        if len(name.encode()) > MAX_FILE_NAME:
            report.at_value(("spec", "datasets", found[0], "uri"), "SG106",
                            f"claim `{_clip(claim, 60)}` makes the file name of its PVC {len(name.encode())} bytes long; "
                            f"file systems take at most {MAX_FILE_NAME}", "use a shorter claim name")
            continue
        size = found[1].get("size")
        earlier = files.setdefault((cluster, name), (namespace, claim, size, index))
        if earlier[:2] != (namespace, claim):
            report.at_value(path, "SG211", f"the PVC of claim `{claim}` in namespace `{namespace}` and that of claim `{earlier[1]}` "
                            f"in namespace `{earlier[0]}` would both be written as `{name}` on cluster `{cluster}`; one would be lost",
                            "rename the claim or the namespace")
        elif earlier[2] != size:
            report.at_value(path, "SG211", f"claim `{claim}` in namespace `{namespace}` on cluster `{cluster}` is declared with "
                            f"size {earlier[2]} and {size}; one PVC cannot have both", "give both datasets the same size")


# --- literal credentials -----------------------------------------------------------------
#
# What a credential looks like, and how it is masked, lives in stackgen/credentials.py (shared
# with load, whose messages quote scalars too); every check there is linear in the text.

# Normalised (lowercase, no `_` or `-`) names of keys whose value is a credential; suffixes, so
# `dbPassword`, `github_token` and `aws_secret_access_key` count too. No schema property
# ends this way (a test holds that), so such a value is never echoed by a schema message.
_SECRET_KEY_SUFFIXES = ("password", "passwd", "token", "secret", "secretkey", "accesskey", "apikey", "privatekey")


def _secret_key(key: str) -> bool:
    normal = key.replace("-", "").replace("_", "").lower()
    return normal == "pwd" or normal.endswith(_SECRET_KEY_SUFFIXES)


_redact = credentials.redact
_masked = credentials.masked


def _redacted(diagnostic: Diagnostic) -> Diagnostic:
    hint = _redact(diagnostic.hint) if diagnostic.hint else diagnostic.hint
    return dataclasses.replace(diagnostic, message=_redact(diagnostic.message), path=_redact(diagnostic.path), hint=hint)


def _credentials(report: _Report, node: t.Any, path: JsonPath) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            child = path + (key,)
            if _kind_of_secret(key):
                report.at_key(child, "SG301", f"literal credential in a key: `{_clip(_redact(key))}`", _CREDENTIAL_HINT)
            if _secret_key(key) and _is_literal(value):
                report.at_value(child, "SG301", f"literal credential: `{_clip(_redact(key))}` holds a value (`{_masked(str(value))}`)",
                                _CREDENTIAL_HINT)
            else:
                _credentials(report, value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _credentials(report, value, path + (index,))
    elif isinstance(node, str) and (kind := _kind_of_secret(node)):
        report.at_value(path, "SG301", f"literal credential: {kind} (`{_clip(_redact(node))}`)", _CREDENTIAL_HINT)


_kind_of_secret = credentials.kind


def _is_literal(value: object) -> bool:
    """A non-empty string or a number: `password: 123456` is as literal as a quoted one."""
    return (isinstance(value, str) and value != "") or (isinstance(value, (int, float)) and not isinstance(value, bool))


_CREDENTIAL_HINT = "stack.yaml holds references, never secrets: put it in your cloud's secret store and list it under spec.secrets"
