"""verify: rendered resources against Kubernetes and CRD schemas, then policies.

Each check has a stable code (SG601-SG618; SG620-SG628 are the first sync's, in
stackgen/firstsync.py), registered with its meaning in stackgen/codes.py; the docstrings
of the check functions give pass/fail examples.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import typing as t
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry
from referencing import Resource as SchemaResource

from stackgen import cachefile, catalog, crds, yamlio
from stackgen.compile import images
from stackgen.diagnostics import Style, github_annotation, plain
from stackgen.layout import OWN
from stackgen.render import ClusterRender

Resource = dict[str, t.Any]
_POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")


@dataclass(frozen=True)
class Problem:
    cluster: str
    overlay: str
    resource: str  # apiVersion/kind/namespace/name
    path: str
    severity: str
    code: str
    message: str

    def render(self, file: str | None = None, style: Style = plain) -> str:
        where = style("location", f"{file or self.overlay}:")
        return f"{where} {style(self.severity, self.severity + ':')} {self.resource}: {self.path}: {self.message} {style('code', f'[{self.code}]')}"

    def github(self, file: str) -> str:
        return github_annotation(self.severity, f"cluster {self.cluster}: {self.resource}: {self.path}: {self.message}", self.code, file)

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def resource_id(resource: Resource) -> str:
    metadata = resource.get("metadata", {})
    return f"{resource.get('apiVersion')}/{resource.get('kind')}/{metadata.get('namespace', '')}/{metadata.get('name')}"


def verify(render: ClusterRender, kubernetes_version: str, mirror_crds: Path | None, declared_vars: frozenset[str],
           registry_mirror: str | None = None, provides: t.Collection[str] = (), seen: Seen | None = None) -> list[Problem]:
    """Every check on one cluster's render; answered from the user's cache where the same
    content was verified before (a warm render re-verifies only the clusters that changed).
    `provides`: foundations the cluster already runs, whose CRDs come from the mirror; `seen`:
    the run's, shared by the clusters it verifies."""
    foundations = tuple(sorted(provides))
    entry = _cache_entry(render, kubernetes_version, mirror_crds, declared_vars, f"{registry_mirror}\0{','.join(foundations)}")
    stored = cachefile.read_json(entry) if entry else None
    if isinstance(stored, list):
        try:
            return [Problem(**problem) for problem in stored]
        except TypeError:
            pass  # an entry of another shape: verified afresh and replaced
    problems = _verify(render, kubernetes_version, mirror_crds, declared_vars, registry_mirror, foundations, seen or Seen())
    if entry:
        cachefile.write_entry(entry, json.dumps([p.as_json() for p in problems], sort_keys=True))
    return problems


def _cache_entry(render: ClusterRender, kubernetes_version: str, mirror_crds: Path | None, declared_vars: frozenset[str],
                 registry_mirror: str | None) -> Path | None:
    """Where verify's answer for exactly these inputs is kept: the render's content key, every
    other argument, the mirror's CRDs (paths, sizes, mtimes) and the code and schemas that check."""
    if not render.key or render.error:
        return None
    digest = hashlib.sha256(f"{_VERIFY_CACHE}\0{render.key}\0{kubernetes_version}\0{registry_mirror}\0".encode())
    digest.update("\0".join(sorted(declared_vars)).encode() + b"\0" + _checker_digest().encode())
    if mirror_crds is not None:
        _stamp_crds(digest, mirror_crds)
    return cachefile.root() / "verify" / f"{digest.hexdigest()}.json"


def _stamp_crds(digest: t.Any, mirror_crds: Path) -> None:
    """The mirror's CRDs as they are (paths, sizes, mtimes): a changed CRD is a new answer."""
    if mirror_crds.is_dir() and not mirror_crds.is_symlink():
        for path in sorted(mirror_crds.rglob("*")):
            status = path.lstat()
            digest.update(f"{path.relative_to(mirror_crds)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())


_VERIFY_CACHE = "verify-1"


@functools.cache
def _checker_digest() -> str:
    # The process's own code and the schema packages it checks with: constant for its life.
    versions = "\0".join(metadata.version(name) for name in ("jsonschema", "kubernetes-validate"))
    return cachefile.code_digest("verify.py", "crds.py", "catalog.py", "compile/images.py") + versions


# Where the mirror keeps the CRDs of a foundation a cluster provides (`provides`), relative to
# the mirror's root: Istio's and cert-manager's as kubeflow/manifests pins them (the versions
# Kubeflow is tested with); External Secrets' are in the mirror's crds/ folder already, and no
# GPU operator CRD is pinned (stackgen writes no GPU operator object).
FOUNDATION_CRDS: t.Mapping[str, str] = {
    "istio": "kubeflow-manifests/common/istio/istio-crds/base",
    "cert-manager": "kubeflow-manifests/common/cert-manager/base/upstream",
}


def _custom_schemas(render: ClusterRender, mirror_crds: Path | None, foundations: t.Sequence[str], seen: Seen) -> dict[crds.TypeKey, crds.Schema]:
    """CRD schemas from the render, then from the mirror for what the cluster's foundations bring
    (the render does not hold a provided Istio's CRDs, but its Gateways must still match them)."""
    custom = crds.schemas_from_crds(render.resources, text_of=seen.text)
    for foundation in foundations:
        where = FOUNDATION_CRDS.get(foundation)
        if where and mirror_crds is not None and (mirror_crds.parent / where).is_dir():
            for key, schema in crds.schemas_from_dir(mirror_crds.parent / where).items():
                custom.setdefault(key, schema)
    return custom


def _verify(render: ClusterRender, kubernetes_version: str, mirror_crds: Path | None, declared_vars: frozenset[str],
            registry_mirror: str | None, foundations: t.Sequence[str], seen: Seen) -> list[Problem]:
    problems: list[Problem] = []

    def report(resource: Resource, path: str, code: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(render.cluster, render.overlay, resource_id(resource), path, severity, code, message))

    validators = _Validators(kubernetes_version, _custom_schemas(render, mirror_crds, foundations, seen), mirror_crds)
    texts = [seen.text(resource) for resource in render.resources]
    for resource, origin in zip(render.resources, render.origins):
        digest = seen.digest(resource)
        _check_schema(resource, digest, validators, report)
        _check_images(resource, digest, registry_mirror, report)
        _check_default_credentials(resource, report)
        if origin.endswith(f"/{OWN}") or origin == OWN:
            _check_gpu(resource, report)
            _check_literal_secret(resource, report)
    _check_in_cluster_hosts(render.resources, report)
    _check_duplicates(render.resources, report)
    # Only a resource whose text holds `$(` can hold an unresolved var: the rest are not walked.
    _check_vars([r for r, text in zip(render.resources, texts) if text is None or "$(" in text], declared_vars, report)
    _check_ca_injection(render.resources, render.origins, report)
    _check_issuers(render.resources, render.origins, report)
    return sorted(problems, key=lambda p: (p.cluster, p.resource, p.path, p.code))


# --- schemas -----------------------------------------------------------------------------


@functools.cache
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """One compiled validator per (Kubernetes version, apiVersion, kind): compiling is the cost."""
    chosen = [v for v in kv.all_versions() if kv.major_minor(v) <= version]
    if not chosen:
        return None
    schema_dir = f"v{chosen[-1]}-local"
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{short}.json", version)
    except (FileNotFoundError, kv.VersionNotSupportedError):
        return None
    registry = SchemaResource.from_contents(schema) @ _definitions(schema_dir, version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _definitions(schema_dir: str, version: str) -> Registry:
    """The shared definitions of one Kubernetes version, parsed once (they are megabytes)."""
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    return SchemaResource.from_contents(definitions) @ Registry()


class _Validators:
    """One compiled validator per kind for this render: compiling, not validating, is the cost."""

    def __init__(self, kubernetes_version: str, custom: t.Mapping[crds.TypeKey, crds.Schema], mirror_crds: Path | None):
        self.version = kubernetes_version
        self.custom = custom
        self.mirror_crds = mirror_crds
        self.compiled: dict[crds.TypeKey, tuple[t.Any, str]] = {}
        self.reported: set[crds.TypeKey] = set()

    def get(self, api_version: str, kind: str) -> tuple[t.Any, str]:
        """The validator for a kind, and a token naming the schema it checks against (equal
        tokens, equal schemas), by which its answers are remembered across clusters."""
        key = (api_version, kind)
        if key not in self.compiled:
            self.compiled[key] = self._compile(key)
        return self.compiled[key]

    def _compile(self, key: crds.TypeKey) -> tuple[t.Any, str]:
        api_version, kind = key
        if key in self.custom:
            return _schema_validator(self.custom[key])
        group = api_version.split("/")[0]
        if "." not in group or group.endswith(".k8s.io"):
            return _builtin_validator(self.version, api_version, kind), f"builtin\0{self.version}\0{api_version}\0{kind}"
        # The mirror's CRDs (Argo CD, Flux, External Secrets) are read only when needed.
        mirrored = crds.schema_in_dir(self.mirror_crds, key) if self.mirror_crds else None
        return _schema_validator(mirrored) if mirrored is not None else (None, "")


_BY_SCHEMA: dict[int, tuple[crds.Schema, t.Any, str]] = {}  # id of a shared schema -> it (held, so the id stays its own), validator, token


def _schema_validator(schema: crds.Schema) -> tuple[t.Any, str]:
    """One validator per CRD schema for the process (crds shares a schema between clusters that
    render the same CRD), with the digest of the schema as its token."""
    known = _BY_SCHEMA.get(id(schema))
    if known is None or known[0] is not schema:
        try:
            token = "crd\0" + hashlib.sha256(crds.canonical(schema).encode()).hexdigest()
        except (TypeError, ValueError):
            token = ""  # not remembered
        known = (schema, jsonschema.Draft7Validator(schema), token)
        _BY_SCHEMA[id(schema)] = known
    return known[1], known[2]


class Seen:
    """The canonical text of each object one render run has met, by identity: clusters built from
    the same unit share its objects, so each is serialised once for the fleet, not per cluster.
    Holds the objects it names, so an id is never reused while it is here; one per run."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[t.Any, str | None, bytes | None]] = {}

    def text(self, body: t.Any) -> str | None:
        return self._known(body)[1]

    def digest(self, body: t.Any) -> bytes | None:
        """The sha256 of the canonical text: what verify remembers answers by."""
        return self._known(body)[2]

    def _known(self, body: t.Any) -> tuple[t.Any, str | None, bytes | None]:
        known = self._texts.get(id(body))
        if known is None or known[0] is not body:
            text = crds.canonical_or_none(body)
            known = (body, text, None if text is None else hashlib.sha256(text.encode()).digest())
            self._texts[id(body)] = known
        return known


# (schema token, digest of the resource's text) -> its first schema errors (JSON path, message):
# most resources of a fleet are the same in every cluster, and validating them is most of
# verify's cost.
_SCHEMA_ERRORS: dict[tuple[str, bytes], tuple[tuple[str, str], ...]] = {}


def _check_schema(resource: Resource, digest: bytes | None, validators: _Validators, report: t.Callable[..., None]) -> None:
    """SG602: `kind: Deployment` without `spec.selector` fails; SG601: a kind with no schema warns once."""
    api_version, kind = str(resource.get("apiVersion")), str(resource.get("kind"))
    validator, token = validators.get(api_version, kind)
    if validator is None:
        if (api_version, kind) not in validators.reported:
            validators.reported.add((api_version, kind))
            report(resource, "$", "SG601", f"no schema found for {kind} ({api_version}): not validated", "warning")
        return
    remembered = (token, digest) if token and digest is not None else None
    errors = _SCHEMA_ERRORS.get(remembered) if remembered else None
    if errors is None:
        errors = tuple((e.json_path, _short(e.message)) for e in sorted(validator.iter_errors(resource), key=lambda e: e.json_path)[:5])
        if remembered:
            _SCHEMA_ERRORS[remembered] = errors
    for path, message in errors:
        report(resource, path, "SG602", message)


def _short(message: str) -> str:
    return message if len(message) < 200 else message[:197] + "..."


# --- policies ----------------------------------------------------------------------------

# The in-cluster databases and object stores upstream ships (Services in `kubeflow`), which an
# external `database` removes: nothing left in the render may still dial them.
_IN_CLUSTER_STORES: t.Mapping[str, str] = {
    "mysql": "Pipelines' MySQL", "katib-mysql": "Katib's MySQL", "model-registry-db": "Model Registry's MySQL",
    "seaweedfs": "Pipelines' SeaweedFS", "minio-service": "Pipelines' MinIO",
}
# Hosts a container dials when upstream sets no variable: katib-db-manager's DB_HOST defaults to
# `katib-mysql` (kubeflow/katib pkg/db/v1beta1/common/const.go, DefaultMySQLHost).
_IMPLICIT_HOSTS: t.Mapping[tuple[str, str], tuple[str, str]] = {("katib-db-manager", "katib-db-manager"): ("DB_HOST", "katib-mysql")}
_HOST_IN_TEXT = re.compile(r"(?:tcp\(|--[\w-]*host=|endpoint:\s*\"?|://)([A-Za-z0-9.-]+)")


def _store_host(value: str) -> str | None:
    """`mysql`, `seaweedfs.kubeflow:9000` or `http://minio-service.kubeflow.svc.cluster.local` ->
    the in-cluster store's Service name; None for any other host."""
    host = value.strip().partition("://")[2] or value.strip()
    host = host.split("/", 1)[0].split(":", 1)[0]
    name, _, rest = host.partition(".")
    if name in _IN_CLUSTER_STORES and rest in ("", "kubeflow", "kubeflow.svc", "kubeflow.svc.cluster.local"):
        return name
    return None


def _check_in_cluster_hosts(resources: t.Sequence[Resource], report: t.Callable[..., None]) -> None:
    """SG650: once a unit deletes an in-cluster database or object store, every host setting must
    name the external one. Fails: pipeline-install-config `mysqlHost: mysql` with no Service
    kubeflow/mysql rendered; katib-db-manager without DB_HOST (it defaults to katib-mysql) with
    no Service kubeflow/katib-mysql. Passes: the host is the external server, or the Service renders."""
    services = {(str((r.get("metadata") or {}).get("namespace", "")), str((r.get("metadata") or {}).get("name")))
                for r in resources if r.get("kind") == "Service"}

    def gone(value: t.Any) -> str | None:
        name = _store_host(str(value)) if isinstance(value, str) else None
        return name if name and ("kubeflow", name) not in services else None

    for resource in resources:
        kind, name = resource.get("kind"), str((resource.get("metadata") or {}).get("name"))
        findings: list[tuple[str, str]] = []
        if kind == "ConfigMap":
            for key, value in sorted((resource.get("data") or {}).items()):
                if not isinstance(value, str):
                    continue
                hosts = [value] if re.search(r"host|endpoint", str(key), re.I) else [m.group(1) for m in _HOST_IN_TEXT.finditer(value)]
                findings += [(f"$.data.{key}", store) for store in filter(None, map(gone, hosts))]
        for pod_path, pod in _pod_specs(resource):
            for index, container in enumerate(pod.get("containers") or []):
                where = f"{pod_path}.containers[{index}]"
                env = {str(e.get("name")): e for e in container.get("env") or [] if isinstance(e, dict)}
                for env_index, item in enumerate(container.get("env") or []):
                    if re.search(r"HOST|ENDPOINT", str(item.get("name", ""))) and (store := gone(item.get("value"))):
                        findings.append((f"{where}.env[{env_index}].value", store))
                for arg_index, arg in enumerate(container.get("args") or []):
                    findings += [(f"{where}.args[{arg_index}]", s) for m in _HOST_IN_TEXT.finditer(str(arg)) if (s := gone(m.group(1)))]
                implicit = _IMPLICIT_HOSTS.get((name, str(container.get("name"))))
                if implicit and implicit[0] not in env and (store := gone(implicit[1])):
                    findings.append((f"{where}.env", store))
        for path, store in findings:
            report(resource, path, "SG650", f"points at {_IN_CLUSTER_STORES[store]} (Service kubeflow/{store}), which is not rendered: "
                   "set the external server's host here")


def _pod_specs(resource: Resource) -> t.Iterator[tuple[str, Resource]]:
    spec = resource.get("spec") or {}
    if resource.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        yield "$.spec.template.spec", (spec.get("template") or {}).get("spec") or {}


def _check_duplicates(resources: t.Sequence[Resource], report: t.Callable[..., None]) -> None:
    """SG610: two resources with the same apiVersion, kind, namespace and name."""
    seen: set[str] = set()
    for resource in resources:
        key = resource_id(resource)
        if key in seen:
            report(resource, "$.metadata.name", "SG610", "duplicate resource: another one has the same apiVersion, kind, namespace and name")
        seen.add(key)


def _pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    return ":" in name and not name.endswith(":latest")


def _check_images(resource: Resource, digest: bytes | None, registry_mirror: str | None, report: t.Callable[..., None]) -> None:
    """SG611: `image: nginx` or `image: nginx:latest` fails; `nginx:1.27` or `nginx@sha256:...` passes.

    SG617, with a registry mirror `reg.internal/kf`: `reg.internal/kf/docker.io/library/nginx:1.27`
    passes, `nginx:1.27` fails, also inside KServe's JSON config.
    """
    refs = _IMAGE_REFS.get(digest) if digest is not None else None
    if refs is None:
        refs = tuple(images.image_refs(resource))
        if digest is not None:
            _IMAGE_REFS[digest] = refs
    for ref in refs:
        if not ref.path.startswith("$.data.") and not _pinned(ref.image):
            why = "`latest` is a tag that moves" if ref.image.endswith(":latest") else "it has no tag or digest"
            report(resource, ref.path, "SG611", f"image `{ref.image}` is not pinned ({why}): pin a version tag or a digest")
        if registry_mirror and not images.in_mirror(ref.image, registry_mirror):
            report(resource, ref.path, "SG617", f"image `{ref.image}` is not pulled from the registry mirror {registry_mirror}")


# Digest of a resource's canonical text -> the images it names: the same objects in every cluster.
_IMAGE_REFS: dict[bytes, tuple[images.ImageRef, ...]] = {}

_SHIPPED = {(c.namespace, c.rendered): c for c in catalog.DEFAULT_CREDENTIALS}


def _check_default_credentials(resource: Resource, report: t.Callable[..., None]) -> None:
    """SG618: upstream's `auth/dex-passwords` with its data, or any Secret holding a value whose
    digest is one of upstream's defaults (`minio123`, katib's `test`), fails; a Secret with no
    data, or data of its own, passes. The message never shows the value."""
    if resource.get("kind") != "Secret" or resource.get("apiVersion") != "v1":
        return
    metadata = resource.get("metadata") or {}
    shipped = _SHIPPED.get((str(metadata.get("namespace", "")), str(metadata.get("name"))))
    values = {**{k: _decoded(v) for k, v in (resource.get("data") or {}).items()},
              **{k: str(v).encode() for k, v in (resource.get("stringData") or {}).items()}}
    if shipped and values:
        report(resource, "$.data", "SG618", f"still carries upstream's default credential ({shipped.what}); "
               "stackgen replaces it with an ExternalSecret: is the unit's delete patch missing?")
        return
    for key, value in sorted(values.items()):
        if value and hashlib.sha256(value).hexdigest() in catalog.DEFAULT_CREDENTIAL_DIGESTS:
            report(resource, f"$.data.{key}", "SG618", "holds one of upstream's published default credentials")


def _decoded(value: t.Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (ValueError, binascii.Error):
        return str(value).encode()


def _requests_gpu(node: t.Any) -> bool:
    """Whether any `requests` or `limits` below `node` asks for a GPU resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("requests", "limits") and isinstance(value, dict) and any(g in value for g in _GPU_RESOURCES):
                return True
            if _requests_gpu(value):
                return True
    elif isinstance(node, list):
        return any(_requests_gpu(item) for item in node)
    return False


def _check_gpu(resource: Resource, report: t.Callable[..., None]) -> None:
    """SG612: a workload scheduled onto GPU nodes (GPU toleration) must request GPUs."""
    text = json.dumps(resource.get("spec", {}))
    tolerates_gpu = any(f'"key": "{name}"' in text for name in _GPU_RESOURCES)
    if tolerates_gpu and resource.get("kind") in _POD_KINDS | {"TrainJob"}:
        spec = resource.get("spec", {})
        scope = spec.get("trainer", {}) if resource.get("kind") == "TrainJob" else spec
        if not _requests_gpu(scope):
            report(resource, "$.spec", "SG612", "scheduled onto GPU nodes but requests no GPU")


def _check_literal_secret(resource: Resource, report: t.Callable[..., None]) -> None:
    """SG613: stackgen never authors a Secret with `data` or `stringData`: it writes ExternalSecrets."""
    if resource.get("kind") == "Secret" and (resource.get("data") or resource.get("stringData")):
        report(resource, "$.data", "SG613", "Secret with literal data authored by stackgen")


def _check_vars(resources: t.Sequence[Resource], declared: frozenset[str], report: t.Callable[..., None]) -> None:
    """SG614: `$(CERTIFICATE_NAME)` left in a resource when CERTIFICATE_NAME is a kustomize var.

    A container's `$(POD_NAMESPACE)` (an env reference) is not a kustomize var and passes.
    """
    if not declared:
        return
    pattern = re.compile(r"\$\((" + "|".join(sorted(map(re.escape, declared))) + r")\)")
    for resource in resources:
        for path, value in _strings(resource, "$"):
            match = pattern.search(value)
            if match:
                report(resource, path, "SG614", f"unresolved kustomize var $({match.group(1)})")


def _strings(node: t.Any, path: str) -> t.Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and "$(" in key:
                yield f"{path}.{key}", key
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str) and "$(" in node:
        yield path, node


def _check_ca_injection(resources: t.Sequence[Resource], origins: t.Sequence[str], report: t.Callable[..., None]) -> None:
    """SG615: `cert-manager.io/inject-ca-from: ns/name` must name a Certificate of the same unit."""
    certificates = {
        f"{r.get('metadata', {}).get('namespace', '')}/{r.get('metadata', {}).get('name')}": origin
        for r, origin in zip(resources, origins)
        if r.get("kind") == "Certificate"
    }
    for resource, origin in zip(resources, origins):
        annotations = resource.get("metadata", {}).get("annotations") or {}
        target = annotations.get("cert-manager.io/inject-ca-from")
        if not target or "$(" in target:
            continue
        owner = certificates.get(target)
        path = "$.metadata.annotations['cert-manager.io/inject-ca-from']"
        if owner is None:
            report(resource, path, "SG615", f"CA injected from Certificate {target}, which this cluster does not render")
        elif owner != origin:
            report(resource, path, "SG615", f"CA injected from Certificate {target} of {owner}, another component")


def _check_issuers(resources: t.Sequence[Resource], origins: t.Sequence[str], report: t.Callable[..., None]) -> None:
    """SG616: a Certificate's `issuerRef` (kind Issuer) must name an Issuer of the same unit.

    Upstream KServe and the admission webhook both ship an Issuer first named `selfsigned-issuer`
    in `kubeflow`; built in one kustomization, kustomize's name references point KServe's
    Certificates at the webhook's renamed Issuer. Built per unit, each keeps its own.
    """
    issuers = {
        (r.get("metadata", {}).get("namespace", ""), r.get("metadata", {}).get("name")): origin
        for r, origin in zip(resources, origins)
        if r.get("kind") == "Issuer"
    }
    for resource, origin in zip(resources, origins):
        if resource.get("kind") != "Certificate":
            continue
        reference = resource.get("spec", {}).get("issuerRef", {})
        if reference.get("kind", "Issuer") != "Issuer":
            continue
        owner = issuers.get((resource.get("metadata", {}).get("namespace", ""), reference.get("name")))
        if owner is not None and owner != origin:
            report(resource, "$.spec.issuerRef.name", "SG616", f"issued by Issuer {reference.get('name')} of {owner}, another component")


def declared_vars(mirror_root: Path) -> frozenset[str]:
    """Every name declared in a `vars:` block anywhere in the pinned upstream (read on every
    call, once per render: a memo by path would answer for a mirror since changed)."""
    names: set[str] = set()
    for path in mirror_root.rglob("kustomization.yaml"):
        text = path.read_text("utf-8", errors="replace")
        if "vars:" not in text:
            continue
        try:
            body = yamlio.load(text) or {}
        except yaml.YAMLError:
            continue
        names.update(v["name"] for v in body.get("vars") or [] if isinstance(v, dict) and "name" in v)
    return frozenset(names)



def verify_engine_objects(files: t.Mapping[str, bytes], mirror_crds: Path, clusters: t.Collection[str] | None = None) -> list[Problem]:
    """SG603: every generated Argo CD / Flux object of `clusters` (None: of every cluster), and
    those of no one cluster, against the mirror's pinned CRDs. Each cluster's answer is kept in
    the user's cache by the content of its files: a warm render checks only what changed, and
    `render --cluster` only its own."""
    groups: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        if path.startswith("gitops/"):
            cluster = path.split("/")[2] if path.count("/") >= 3 else ""
            if clusters is None or not cluster or cluster in clusters:
                groups.setdefault(cluster, {})[path] = content
    schemas: t.Mapping[crds.TypeKey, crds.Schema] | None = None
    problems = []
    # The checker and the CRDs, stamped once for every cluster's entry.
    stamped = hashlib.sha256(f"engine-1\0{_checker_digest()}\0".encode())
    _stamp_crds(stamped, mirror_crds)
    for cluster, group in groups.items():
        entry = _engine_entry(stamped, group)
        stored = cachefile.read_json(entry)
        if isinstance(stored, list):
            try:
                problems += [Problem(**problem) for problem in stored]
                continue
            except TypeError:
                pass  # an entry of another shape: checked afresh and replaced
        schemas = schemas if schemas is not None else crds.schemas_from_dir(mirror_crds)
        found = _engine_problems(cluster, group, schemas)
        cachefile.write_entry(entry, json.dumps([p.as_json() for p in found], sort_keys=True))
        problems += found
    return sorted(problems, key=lambda problem: problem.overlay)  # stable: a file's errors stay sorted


def _engine_problems(cluster: str, files: t.Mapping[str, bytes], schemas: t.Mapping[crds.TypeKey, crds.Schema]) -> list[Problem]:
    problems = []
    for path, content in sorted(files.items()):
        body = yamlio.load(content)
        if str(body.get("apiVersion", "")).startswith("kustomize.config.k8s.io"):
            continue
        errors = crds.validate_object(body, schemas)
        if errors is None:
            problems.append(Problem(cluster, path, resource_id(body), "$", "warning", "SG601", f"no CRD found for {body.get('kind')} ({body.get('apiVersion')})"))
        for error in errors or []:
            where, _, message = error.partition(": ")
            problems.append(Problem(cluster, path, resource_id(body), where, "error", "SG603", _short(message)))
    return problems


def _engine_entry(stamped: t.Any, files: t.Mapping[str, bytes]) -> Path:
    digest = stamped.copy()
    for path, content in sorted(files.items()):
        digest.update(f"{path}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return cachefile.root() / "verify" / f"{digest.hexdigest()}.json"
