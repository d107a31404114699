"""validate: the JSON Schema (the one source of truth), then cross-references and credentials.

Every problem is reported at once, sorted by position, at the node that causes it: an unknown
key at the key, a missing key at its parent mapping, a wrong value at the value. Messages are
written here, never taken from jsonschema, whose messages echo values (which may be secrets).

Codes (stable; tests and users rely on them):
    SG101 unknown key                 SG201 duplicate name
    SG102 missing required key        SG202 unknown cluster, dataset, role or name in a selector
    SG103 value not among the allowed SG203 cluster named like a role
    SG104 wrong type                  SG204 training job's dataset on a cluster without `training`
    SG105 malformed value (pattern)   SG205 model or secret selector matches no cluster
    SG106 out of range / size         SG206 identity or issuer that does not fit the cluster
    SG107 unknown component           SG207 secret that needs `auth.secretRef` to reach its store
    SG108 kubernetesVersion as float  SG208 secret that lands on no cluster (warning)
                                      SG209 role selector no cluster has yet (warning)
                                      SG210 hub topology, cluster without `server`
    SG301 literal credential (shown masked)
"""

from __future__ import annotations

import datetime
import difflib
import functools
import importlib.resources
import json
import re
import typing as t
from pathlib import Path

import jsonschema

from stackgen.diagnostics import Diagnostic, JsonPath, Severity, json_path
from stackgen.load import Loaded
from stackgen.model import ROLES, STORE_CLOUD

CODES: t.Mapping[str, str] = {
    "SG101": "unknown key",
    "SG102": "missing required key",
    "SG103": "value not among the allowed ones",
    "SG104": "wrong type",
    "SG105": "malformed value",
    "SG106": "value out of range or of the wrong size",
    "SG107": "unknown component",
    "SG108": "kubernetesVersion written as a YAML number",
    "SG201": "duplicate name",
    "SG202": "reference to something stack.yaml does not declare",
    "SG203": "cluster named like a role",
    "SG204": "training job's dataset is on a cluster without the training role",
    "SG205": "selector that matches no cluster",
    "SG206": "identity or OIDC issuer that does not fit its cluster",
    "SG207": "secret needs credentials to reach its store",
    "SG208": "secret that lands on no cluster",
    "SG209": "role selector that no cluster has yet (warning)",
    "SG210": "hub topology with a cluster that has no `server`",
    "SG301": "literal credential in stack.yaml",
}


def _schema_path() -> Path:
    packaged = importlib.resources.files("stackgen") / "stack.schema.json"
    if packaged.is_file():  # installed from a wheel, which carries the schema inside the package
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas" / "stack.schema.json"


@functools.cache
def schema_text() -> str:
    return _schema_path().read_text("utf-8")


@functools.cache
def load_schema() -> dict[str, t.Any]:
    schema: dict[str, t.Any] = json.loads(schema_text())
    return schema


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load_schema())


class _Report:
    """Collects diagnostics for one file, placing each at its node."""

    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.items: list[Diagnostic] = []

    def at_value(self, path: JsonPath, code: str, message: str, hint: str | None = None, severity: Severity = "error") -> None:
        self._add(self.loaded.source.value_at(path), path, code, message, hint, severity)

    def at_key(self, path: JsonPath, code: str, message: str, hint: str | None = None) -> None:
        self._add(self.loaded.source.key_at(path), path, code, message, hint, "error")

    def _add(self, position: t.Any, path: JsonPath, code: str, message: str, hint: str | None, severity: Severity) -> None:
        self.items.append(
            Diagnostic(self.loaded.file, position.line, position.column, severity, code, message, json_path(path), hint)
        )


def validate(loaded: Loaded) -> list[Diagnostic]:
    report = _Report(loaded)
    tree = loaded.tree
    for error in _validator().iter_errors(tree):
        _schema_error(report, error)
    _cross_references(report, tree)
    _credentials(report, tree, ())
    return sorted(_without_echoes(report.items))


def _without_echoes(items: list[Diagnostic]) -> set[Diagnostic]:
    """Drop errors that only restate another: a credential's pattern error, and "missing `region`"
    beside the unknown key `regoin` that was meant to be it."""
    credentials = {d.path for d in items if d.code == "SG301"}
    meant = {(d.path.rsplit(".", 1)[0], d.hint) for d in items if d.code == "SG101" and d.hint}
    kept = set()
    for item in items:
        if item.code == "SG105" and item.path in credentials:
            continue
        if item.code == "SG102" and (item.path, f"did you mean `{item.message.split('`')[1]}`?") in meant:
            continue
        kept.add(item)
    return kept


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
        return "a number"
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
    if isinstance(value, str):
        return f'"{_mask(value)}"' if _looks_secret(value) else json.dumps(value, ensure_ascii=False)[:80]
    return str(value)[:80]


def _schema_error(report: _Report, error: jsonschema.ValidationError) -> None:
    path: JsonPath = tuple(error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.schema_path:
        # jsonschema reports the offending key as the instance, at the mapping's path.
        names = load_schema()["properties"]["spec"]["properties"]["components"]["propertyNames"]["enum"]
        report.at_key(path + (str(value),), "SG107", f"unknown component `{value}`", _did_you_mean(str(value), names))
    elif kind == "additionalProperties" and isinstance(value, dict):
        allowed = set(error.schema.get("properties", {}))
        for key in sorted(set(value) - allowed):
            report.at_key(path + (key,), "SG101", f"unknown key `{key}` in {_where(path)}", _did_you_mean(key, allowed))
    elif kind == "required" and isinstance(value, dict):
        for key in expected:
            if key not in value:
                report.at_value(path, "SG102", f"missing required key `{key}` in {_where(path)}")
    elif kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        report.at_value(path, "SG103", f"`{_name(path)}` must be one of {choices}; got {_shown(value)}",
                        _did_you_mean(str(value), [str(c) for c in expected]))
    elif kind == "const":
        report.at_value(path, "SG103", f"`{_name(path)}` must be `{expected}`; got {_shown(value)}")
    elif kind == "type":
        _type_error(report, path, expected, value)
    elif kind == "pattern":
        _pattern_error(report, path, value)
    elif kind in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "uniqueItems"):
        report.at_value(path, "SG106", _range_message(kind, expected, path, value))
    else:
        report.at_value(path, "SG105", f"`{_name(path)}` is not valid here")


def _type_error(report: _Report, path: JsonPath, expected: t.Any, value: object) -> None:
    if _name(path) == "kubernetesVersion" and isinstance(value, (int, float)) and not isinstance(value, bool):
        report.at_value(
            path, "SG108",
            f"`kubernetesVersion` must be a string like \"1.31\"; YAML read {value!r} as a number",
            hint=f'quote it: kubernetesVersion: "{_version_guess(value)}"',
        )
        return
    wanted = " or ".join(_EXPECTED.get(e, e) for e in ([expected] if isinstance(expected, str) else expected))
    hint = "quote it" if wanted == "a string" and isinstance(value, (int, float, bool, datetime.date)) else None
    report.at_value(path, "SG104", f"`{_name(path)}` must be {wanted}; got {_type_name(value)}", hint)


def _version_guess(value: float | int) -> str:
    text = repr(float(value))
    major, _, minor = text.partition(".")
    # 1.3 was almost surely written 1.30: YAML drops the trailing zero.
    return f"{major}.{minor}0" if len(minor) == 1 and minor != "0" and int(major) == 1 and int(minor) < 4 else text


def _pattern_error(report: _Report, path: JsonPath, value: object) -> None:
    field = _name(path)
    if field == "kubernetesVersion" and isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value):
        report.at_value(path, "SG106", f"`kubernetesVersion` must be between 1.25 and 1.37; got {_shown(value)}")
        return
    described = {
        "name": "a DNS-1123 label (lowercase letters, digits and `-`, starting and ending alphanumeric)",
        "image": "an image reference pinned by tag or digest (`repo/name:tag` or `@sha256:...`)",
        "uri": "a storage URI (s3://, gs://, az://, abfss://, hf://, https:// or pvc://)",
        "storageUri": "a storage URI (s3://, gs://, az://, abfss://, hf://, https:// or pvc://)",
        "repoURL": "a git URL (https://, ssh:// or git@host:path) without credentials",
        "server": "an https:// URL of the API server",
        "awsRoleArn": "an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)",
        "gcpServiceAccount": "a service-account e-mail (<name>@<project>.iam.gserviceaccount.com)",
        "azureClientId": "a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
        "oidcIssuer": "an EKS OIDC issuer (https://oidc.eks.<region>.amazonaws.com/id/<ID>)",
        "size": "a Kubernetes quantity such as 500Gi or 150Ti",
        "path": "a relative path without `..`",
    }.get(field, "well formed")
    report.at_value(path, "SG105", f"`{field}` must be {described}; got {_shown(value)}")


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


def _items(spec: t.Mapping[str, t.Any], key: str) -> list[tuple[int, dict[str, t.Any]]]:
    value = spec.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _strings(value: object) -> list[str]:
    """The string items of a list (malformed lists are reported by the schema)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(item: t.Mapping[str, t.Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _cross_references(report: _Report, tree: t.Any) -> None:
    spec = tree.get("spec") if isinstance(tree, dict) else None
    if not isinstance(spec, dict):
        return
    clusters = _items(spec, "clusters")
    # A cluster whose roles are malformed (already reported) matches every role, so its
    # mistake does not cascade into "no cluster has role ..." elsewhere.
    roles_of: dict[str, set[str]] = {}
    for _, cluster in clusters:
        name = _text(cluster, "name")
        if name is not None:
            roles = cluster.get("roles")
            valid = isinstance(roles, list) and all(isinstance(r, str) and r in ROLES for r in roles)
            roles_of.setdefault(name, set()).update(roles if valid else ROLES)  # type: ignore[arg-type]
    for key in ("clusters", "datasets", "trainingJobs", "models"):
        _duplicates(report, spec, key, lambda item: _text(item, "name"))
    _duplicates(report, spec, "secrets", lambda item: f"{item.get('namespace', 'ml')}/{item.get('name')}" if _text(item, "name") else None)
    gitops = spec.get("gitops")
    hub = isinstance(gitops, dict) and gitops.get("topology") == "hub"
    for index, cluster in clusters:
        name = _text(cluster, "name")
        if hub and "server" not in cluster:
            report.at_value(("spec", "clusters", index), "SG210",
                            f"cluster `{name}` has no `server`; the hub topology deploys to each cluster's API server",
                            "add `server: https://<api-server>:443`")
        if name in ROLES:
            report.at_value(("spec", "clusters", index, "name"), "SG203",
                            f"cluster `{name}` is named like a role; selectors could not tell them apart", "rename the cluster")
        _identity_fits(report, index, cluster)
    components = spec.get("components")
    if isinstance(components, dict):
        for component, body in components.items():
            if isinstance(body, dict):
                _selectors(report, ("spec", "components", component, "runsOn"), body.get("runsOn"), roles_of)
    datasets = {name: (i, d) for i, d in _items(spec, "datasets") if (name := _text(d, "name"))}
    for index, dataset in datasets.values():
        where = _text(dataset, "cluster")
        if where is not None and where not in roles_of:
            report.at_value(("spec", "datasets", index, "cluster"), "SG202", f"dataset `{dataset.get('name')}` is on unknown cluster `{where}`",
                            _did_you_mean(where, roles_of))
    for index, job in _items(spec, "trainingJobs"):
        _job_dataset(report, index, job, datasets, roles_of)
    for index, model in _items(spec, "models"):
        path = ("spec", "models", index, "serveOn")
        if _selectors(report, path, model.get("serveOn"), roles_of) == 0:
            report.at_value(path, "SG205", f"model `{model.get('name')}` is served nowhere: serveOn matches no cluster")
    _secrets(report, spec, roles_of, datasets)


def _duplicates(report: _Report, spec: t.Mapping[str, t.Any], key: str, name_of: t.Callable[[dict[str, t.Any]], str | None]) -> None:
    first: dict[str, int] = {}
    for index, item in _items(spec, key):
        name = name_of(item)
        if name is None:
            continue
        if name in first:
            earlier = report.loaded.source.value_at(("spec", key, first[name], "name"))
            report.at_value(("spec", key, index, "name"), "SG201",
                            f"duplicate {key[:-1] if key != 'trainingJobs' else 'training job'} name `{name}` (first at line {earlier.line})")
        else:
            first[name] = index


def _selectors(report: _Report, path: JsonPath, selectors: object, roles_of: t.Mapping[str, set[str]]) -> int | None:
    """Report selectors that match nothing; how many clusters the list selects (None: unknown)."""
    if not isinstance(selectors, list):
        return None
    reported = len(report.items)
    selected: set[str] = set()
    for index, selector in enumerate(selectors):
        if not isinstance(selector, str):
            continue
        if selector in roles_of:
            selected.add(selector)
        elif selector in ROLES:
            hits = {name for name, roles in roles_of.items() if selector in roles}
            if not hits:
                # A fleet may declare a role before its first cluster exists: say so, do not fail.
                report.at_value(path + (index,), "SG209", f"no cluster has role `{selector}` (yet); this selector matches nothing",
                                severity="warning")
            selected |= hits
        else:
            report.at_value(path + (index,), "SG202", f"`{selector}` is neither a role nor a cluster name",
                            _did_you_mean(selector, list(roles_of) + list(ROLES)) or f"roles: {', '.join(ROLES)}")
    errors = [d for d in report.items[reported:] if d.severity == "error"]
    return None if errors else len(selected)


def _job_dataset(report: _Report, index: int, job: t.Mapping[str, t.Any], datasets: t.Mapping[str, tuple[int, dict[str, t.Any]]],
                 roles_of: t.Mapping[str, set[str]]) -> None:
    name = _text(job, "dataset")
    path = ("spec", "trainingJobs", index, "dataset")
    if name is None:
        return
    if name not in datasets:
        report.at_value(path, "SG202", f"training job `{job.get('name')}` reads unknown dataset `{name}`", _did_you_mean(name, datasets))
        return
    cluster = _text(datasets[name][1], "cluster")
    if cluster is None or cluster not in roles_of or "training" in roles_of[cluster]:
        return
    qualified = sorted(c for c, roles in roles_of.items() if "training" in roles)
    hint = (f"clusters that could hold it: {', '.join(qualified)}" if qualified else "no cluster has the `training` role")
    report.at_value(
        path, "SG204",
        f"training job `{job.get('name')}` would run on `{cluster}` (where dataset `{name}` lives), "
        f"which lacks the `training` role; data does not move, so the job cannot run",
        hint + f"; or give `{cluster}` the training role",
    )


_IDENTITY_CLOUD = {"awsRoleArn": "aws", "gcpServiceAccount": "gcp", "azureClientId": "azure"}
_CLOUD_NAMES = {"aws": "an AWS", "gcp": "a GCP", "azure": "an Azure"}


def _identity_fits(report: _Report, index: int, cluster: t.Mapping[str, t.Any]) -> None:
    cloud = cluster.get("cloud")
    if cloud not in ("aws", "gcp", "azure", "onprem"):
        return  # the schema reports the cloud; its identity cannot be judged against it
    identity = cluster.get("identity")
    if isinstance(identity, dict):
        for key in identity:
            if key in _IDENTITY_CLOUD and _IDENTITY_CLOUD[key] != cloud:
                report.at_key(("spec", "clusters", index, "identity", key), "SG206",
                              f"`{key}` is {_CLOUD_NAMES[_IDENTITY_CLOUD[key]]} identity, but cluster `{cluster.get('name')}` runs on {cloud}")
    issuer = _text(cluster, "oidcIssuer")
    if issuer is None:
        return
    if cloud != "aws":
        report.at_key(("spec", "clusters", index, "oidcIssuer"), "SG206", f"`oidcIssuer` is for EKS clusters; `{cluster.get('name')}` runs on {cloud}")
    elif (match := re.match(r"https://oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com/", issuer)) and match.group(1) != cluster.get("region"):
        report.at_value(("spec", "clusters", index, "oidcIssuer"), "SG206",
                        f"`oidcIssuer` is in region {match.group(1)}, but cluster `{cluster.get('name')}` is in {cluster.get('region')}")


def _secrets(report: _Report, spec: t.Mapping[str, t.Any], roles_of: t.Mapping[str, set[str]],
             datasets: t.Mapping[str, tuple[int, dict[str, t.Any]]]) -> None:
    clusters = {n: c for _, c in _items(spec, "clusters") if (n := _text(c, "name"))}
    for index, secret in _items(spec, "secrets"):
        store = _text(secret, "store")
        if store not in STORE_CLOUD:
            continue
        store_cloud = STORE_CLOUD[store]
        auth = secret.get("auth")
        has_auth = isinstance(auth, dict) and isinstance(auth.get("secretRef"), dict)
        path = ("spec", "secrets", index)
        runs_on = secret.get("runsOn")
        if isinstance(runs_on, list):
            _selectors(report, path + ("runsOn",), runs_on, roles_of)
            selectors = set(_strings(runs_on))
            targets = {n for n, roles in roles_of.items() if n in selectors or roles & selectors}
            foreign = sorted(n for n in targets if store_cloud is None or clusters[n].get("cloud") != store_cloud)
            if foreign and not has_auth:
                report.at_value(path, "SG207", _needs_auth(secret, store, foreign), _AUTH_HINT)
        elif store_cloud is None and not has_auth:
            report.at_value(path, "SG207", _needs_auth(secret, store, []), _AUTH_HINT)
        elif store_cloud is not None and not _workloads_on(spec, str(secret.get("namespace", "ml")), store_cloud, clusters, roles_of, datasets):
            report.at_value(path, "SG208", f"secret `{secret.get('name')}` lands on no cluster: no {store_cloud} cluster runs workloads in "
                            f"namespace `{secret.get('namespace', 'ml')}`", "add `runsOn` to send it somewhere", severity="warning")


_AUTH_HINT = "add `auth: {secretRef: {name: <secret with the store's credentials>}}`"


def _needs_auth(secret: t.Mapping[str, t.Any], store: str, foreign: list[str]) -> str:
    where = f" on {', '.join(foreign)}" if foreign else ""
    return f"secret `{secret.get('name')}` cannot reach {store}{where} by workload identity: it needs a credentials reference (`auth.secretRef`)"


def _workloads_on(spec: t.Mapping[str, t.Any], namespace: str, cloud: str, clusters: t.Mapping[str, t.Mapping[str, t.Any]],
                  roles_of: t.Mapping[str, set[str]], datasets: t.Mapping[str, tuple[int, dict[str, t.Any]]]) -> bool:
    on_cloud = {n for n, c in clusters.items() if c.get("cloud") == cloud}
    for _, job in _items(spec, "trainingJobs"):
        dataset = datasets.get(str(job.get("dataset")))
        if job.get("namespace", "ml") == namespace and dataset and _text(dataset[1], "cluster") in on_cloud:
            return True
    for _, model in _items(spec, "models"):
        serve_on = set(_strings(model.get("serveOn")))
        if model.get("namespace", "ml") == namespace and any(n in serve_on or roles_of.get(n, set()) & serve_on for n in on_cloud):
            return True
    return False


# --- literal credentials -----------------------------------------------------------------

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\b(ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Google service-account key", re.compile(r"\"private_key\"\s*:")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")),
    ("a password inside a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
)
_SECRET_KEYS = re.compile(r"^(password|passwd|pwd|token|secret|secretkey|secret_key|accesskey|access_key|apikey|api_key|clientsecret|client_secret|aws_secret_access_key|privatekey)$", re.I)


def _looks_secret(text: str) -> bool:
    return any(pattern.search(text) for _, pattern in _SECRET_PATTERNS)


def _mask(text: str) -> str:
    """The text with each secret cut to its first four characters; the rest is kept for context."""
    url = re.match(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(@.*)", text)
    if url:
        return url.group(1) + "****" + url.group(2)[:60]
    for _, pattern in _SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            return (text[: match.start()] + match.group(0)[:4] + "****")[-80:]
    return text[:4] + "****"


def _credentials(report: _Report, node: t.Any, path: JsonPath) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            child = path + (key,)
            if _looks_secret(key):
                report.at_key(child, "SG301", f"literal credential in a key: `{_mask(key)}`", _CREDENTIAL_HINT)
            if _SECRET_KEYS.match(key) and isinstance(value, str) and value:
                report.at_value(child, "SG301", f"literal credential: `{key}` holds a value (`{_mask(value)}`)", _CREDENTIAL_HINT)
            else:
                _credentials(report, value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _credentials(report, value, path + (index,))
    elif isinstance(node, str):
        kind = next((label for label, pattern in _SECRET_PATTERNS if pattern.search(node)), None)
        if kind:
            report.at_value(path, "SG301", f"literal credential: {kind} (`{_mask(node)}`)", _CREDENTIAL_HINT)


_CREDENTIAL_HINT = "stack.yaml holds references, never secrets: put it in your cloud's secret store and list it under spec.secrets"
