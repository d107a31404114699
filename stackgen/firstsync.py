"""firstsync: will the first sync of a cluster converge? Proven from its render, offline.

The engine applies a cluster in steps: Argo CD by sync wave (a wave starts once every
Application of the waves before it is Healthy, given the Application health check of
docs/first-sync.md), Flux by `dependsOn` (a Kustomization starts once those it depends on are
Ready, which with `wait: true` means every object it applied is Ready). A step whose objects
wait for something a later step delivers never becomes healthy, so the later step never starts:
the sync deadlocks. This module computes each piece's step from the engine objects stackgen
wrote, then checks every rendered object's prerequisites against it.

Checks, each with a stable code (the rule functions' docstrings give pass/fail examples):
    SG620 a pod template's Secret or ConfigMap delivered later, or by nothing
    SG621 a ServiceAccount, PVC, StorageClass or Namespace delivered later, or by nothing;
          a claim that several nodes mount read-write-once
    SG622 a Secret an ExternalSecret or Certificate produces whose store, issuer or controller
          comes later, or never
    SG623 a custom resource whose CRD is delivered later, or by nothing
    SG624 an object admitted by a `failurePolicy: Fail` webhook whose backend comes later
    SG625 a LoadBalancer Service whose annotations need a controller the cluster does not run
    SG626 a namespace stackgen puts in the mesh under a deny-all with no ALLOW policy
    SG627 an engine object name or a label stackgen writes longer than 63 characters
    SG628 a kind the model does not understand (warning: its prerequisites go unchecked)
    SG630 a Profile whose profile controller comes later, or never
    SG631 an object in a Profile's namespace delivered no later than the Profile
    SG632 a Namespace delivered for a Profile (the profile controller refuses to adopt it)

Objects that controllers create at run time (`kube-root-ca.crt`, `istio-ca-root-cert`, the
`default` ServiceAccount, Secrets of Certificates and ExternalSecrets, a Profile's namespace and
its `default-editor` and `default-viewer` accounts) count as delivered by the step that
delivers what creates them.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from stackgen import yamlio
from stackgen.compile.tls import PROVIDED_ISSUER
from stackgen.prerequisites import BLOCK_STORAGE_CLASSES
from stackgen.render import ClusterRender
from stackgen.verify import Problem, resource_id

Resource = dict[str, t.Any]
Object = dict[str, t.Any]

# The profile controller's Deployment as applications/profiles/pss renders it (namePrefix
# `profiles-` over the kubebuilder `deployment`), in namespace kubeflow, at both releases.
PROFILE_CONTROLLER = "profiles-deployment"

LABEL_LIMIT = 63
"""DNS-1123 labels and label values: at most 63 characters (Kubernetes API conventions)."""


@dataclass(frozen=True)
class Step:
    """One engine object: what it applies and where it stands in the apply order."""

    engine_object: str  # the Application / Kustomization name
    delivers: str  # the piece ("units/<unit>", "clusters/<c>/own") or "addon:<chart>"
    rank: int  # Argo CD sync wave, or Flux dependsOn depth: lower ranks are healthy first


@dataclass(frozen=True)
class AddOn:
    """What a pinned add-on delivers that the render does not show."""

    crds: frozenset[tuple[str, str]]  # (group, kind)
    controllers: frozenset[str]


# The charts stackgen pins (gitops.py), by chart name: their CRDs and the controllers they run.
ADD_ONS: t.Mapping[str, AddOn] = {
    "external-secrets": AddOn(
        frozenset({("external-secrets.io", k) for k in ("ExternalSecret", "SecretStore", "ClusterSecretStore", "ClusterExternalSecret", "PushSecret")}),
        frozenset({"external-secrets"}),
    ),
    "gpu-operator": AddOn(frozenset({("nvidia.com", "ClusterPolicy"), ("nvidia.com", "NVIDIADriver")}), frozenset({"nvidia-gpu"})),
    "amd-gpu-operator": AddOn(frozenset({("amd.com", "DeviceConfig")}), frozenset({"amd-gpu"})),
    "aws-load-balancer-controller": AddOn(
        frozenset({("elbv2.k8s.aws", "TargetGroupBinding"), ("elbv2.k8s.aws", "IngressClassParams")}),
        frozenset({"aws-load-balancer-controller"}),
    ),
}

# What a foundation the cluster already runs (`provides`) brings before the first step: the API
# groups of its CRDs, its controllers, and the namespaces it lives in. Istio: its CRDs'
# groups (common/istio/istio-crds), istiod (which publishes istio-ca-root-cert) in istio-system;
# cert-manager: cert-manager.io and acme.cert-manager.io, its controller and webhook; ESO: the
# groups of its CRDs and its controller; the GPU operator: its ClusterPolicy and device plugin.
@dataclass(frozen=True)
class Foundation:
    groups: frozenset[str]
    controllers: frozenset[str]
    namespaces: frozenset[str] = frozenset()
    mesh: bool = False


FOUNDATIONS: t.Mapping[str, Foundation] = {
    "istio": Foundation(frozenset({"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"}),
                        frozenset({"istio"}), frozenset({"istio-system"}), mesh=True),
    "cert-manager": Foundation(frozenset({"cert-manager.io", "acme.cert-manager.io"}), frozenset({"cert-manager"}), frozenset({"cert-manager"})),
    "external-secrets": Foundation(frozenset({"external-secrets.io", "generators.external-secrets.io"}), frozenset({"external-secrets"})),
    "gpu-operator": Foundation(frozenset({"nvidia.com", "amd.com"}), frozenset({"nvidia-gpu", "amd-gpu"})),
}
FOUNDATION_RANK = -1_000_000
"""A foundation's step: before every step the engine applies (Argo CD waves may be negative)."""

# Namespaces every cluster has before any sync.
_BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# StorageClasses each cloud's managed clusters ship (EKS ships none usable by name with the EBS
# CSI driver: stackgen writes gp3 itself; GKE: standard, standard-rwo, premium-rwo; AKS:
# managed-csi, managed-csi-premium, azurefile-csi). On-prem classes are the operator's: assumed.
_CLOUD_STORAGE_CLASSES: t.Mapping[str, frozenset[str]] = {
    "aws": frozenset({"gp2"}),
    "gcp": frozenset({"standard", "standard-rwo", "premium-rwo"}),
    "azure": frozenset({"default", "managed", "managed-csi", "managed-csi-premium", "managed-premium", "azurefile", "azurefile-csi", "azurefile-csi-premium"}),
}

_CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PersistentVolume",
    "PriorityClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService", "IngressClass",
    "CSIDriver", "RuntimeClass", "ClusterIssuer", "ClusterSecretStore",
})
_POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Built-in kinds that need nothing but their namespace: the model understands them.
_PLAIN_KINDS = frozenset({
    "Namespace", "ConfigMap", "Secret", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
    "Endpoints", "LimitRange", "ResourceQuota", "PriorityClass", "PodDisruptionBudget", "NetworkPolicy", "Ingress",
    "IngressClass", "HorizontalPodAutoscaler", "CustomResourceDefinition", "StorageClass", "PersistentVolume",
    "APIService", "CSIDriver", "RuntimeClass",
})
# Custom kinds that are declarations for a controller, needing only their CRD (checked, SG623).
_DECLARATIVE_GROUPS = frozenset({
    "networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io", "install.istio.io",
    "caching.internal.knative.dev", "networking.internal.knative.dev", "serving.knative.dev", "autoscaling.internal.knative.dev",
    "operator.knative.dev", "serving.kserve.io", "trainer.kubeflow.org", "kubeflow.org", "jobset.x-k8s.io",
    "leaderworkerset.x-k8s.io", "argoproj.io", "tensorboard.kubeflow.org", "external-secrets.io", "cert-manager.io",
    "acme.cert-manager.io", "app.k8s.io", "metacontroller.k8s.io", "admissionregistration.k8s.io", "gateway.networking.k8s.io",
    "nvidia.com", "amd.com", "sparkoperator.k8s.io", "pipelines.kubeflow.org",
})


# API groups the API server serves itself (every other group with a dot comes from a CRD).
_BUILTIN_GROUPS = frozenset({
    "apiextensions.k8s.io", "apiregistration.k8s.io", "admissionregistration.k8s.io", "rbac.authorization.k8s.io",
    "networking.k8s.io", "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
    "discovery.k8s.io", "certificates.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io",
    "authentication.k8s.io", "authorization.k8s.io",
})


def _meta(resource: Resource) -> Object:
    metadata = resource.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _ns(resource: Resource) -> str:
    return str(_meta(resource).get("namespace") or "")


def _name(resource: Resource) -> str:
    return str(_meta(resource).get("name") or "")


def _group(resource: Resource) -> str:
    api = str(resource.get("apiVersion", ""))
    return api.split("/")[0] if "/" in api else ""


# --- the apply order -------------------------------------------------------------------


def steps_of(cluster: str, engine_files: t.Mapping[str, bytes], repo_path: str) -> tuple[Step, ...]:
    """The engine objects of one cluster (paths under gitops/, as compiled) as ranked steps."""
    steps: list[Step] = []
    flux: dict[str, tuple[str, tuple[str, ...]]] = {}
    helm: list[str] = []
    for path, content in sorted(engine_files.items()):
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "gitops" or parts[2] != cluster:
            continue
        body = yamlio.load(content) or {}
        kind = body.get("kind")
        spec = body.get("spec") or {}
        name = _name(body)
        if kind == "Application" and parts[-2] == "apps":
            wave = int((_meta(body).get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
            source = spec.get("source") or {}
            delivers = f"addon:{source['chart']}" if source.get("chart") else _piece(str(source.get("path", "")), repo_path)
            steps.append(Step(name, _addon_name(source, delivers), wave))
        elif kind == "Kustomization" and body.get("apiVersion", "").startswith("kustomize.toolkit.fluxcd.io"):
            needs = tuple(str(d.get("name")) for d in spec.get("dependsOn") or [])
            flux[name] = (_piece(str(spec.get("path", "")), repo_path), needs)
        elif kind == "HelmRelease":
            helm.append(str((spec.get("chart") or {}).get("spec", {}).get("chart", name)))
    depth: dict[str, int] = {}

    def rank(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in depth:
            needs = [n for n in flux.get(name, ("", ()))[1] if n in flux and n not in seen]
            depth[name] = 0 if not needs else 1 + max(rank(n, seen + (name,)) for n in needs)
        return depth[name]

    for name, (piece, _) in sorted(flux.items()):
        if piece.endswith("/addons"):
            # The add-ons' Kustomization applies HelmReleases and, with wait, is Ready once they are.
            steps += [Step(name, f"addon:{_HELM_CHARTS.get(chart, chart)}", rank(name)) for chart in sorted(helm)]
        elif not piece.startswith("gitops/"):
            steps.append(Step(name, piece, rank(name)))
    return tuple(sorted(steps, key=lambda s: (s.rank, s.delivers)))


# Helm chart names -> the add-on names of ADD_ONS (the AMD chart is published as gpu-operator-charts).
_HELM_CHARTS = {"gpu-operator-charts": "amd-gpu-operator"}


def _addon_name(source: Object, delivers: str) -> str:
    if delivers.startswith("addon:"):
        release = (source.get("helm") or {}).get("releaseName") or source.get("chart")
        return f"addon:{release}"
    return delivers


def _piece(path: str, repo_path: str) -> str:
    path = path.removeprefix("./")
    return path.removeprefix(repo_path.rstrip("/") + "/") if repo_path else path


# --- what is delivered, and where ------------------------------------------------------


class Ledger:
    """Everything delivered to a cluster, by id, with the step that delivers it first."""

    def __init__(self, render: ClusterRender, steps: t.Sequence[Step], cloud: str, provides: t.Collection[str] = ()):
        self.cloud = cloud
        self.steps = {s.delivers: s for s in steps}
        self.by_id: dict[tuple[str, str, str], Step] = {}
        self.crds: dict[tuple[str, str], Step] = {}
        self.controllers: dict[str, Step] = {}
        self.resources = [(r, self.steps.get(origin)) for r, origin in zip(render.resources, render.origins)]
        mesh_step: Step | None = None
        # What the cluster already runs is there before the first step: its CRDs (by group, as
        # the render does not hold them), controllers and namespaces.
        self.provided_groups: dict[str, Step] = {}
        for name in sorted(provides):
            foundation = FOUNDATIONS[name]
            provided = Step(f"provides: {name}", f"foundation:{name}", FOUNDATION_RANK)
            self.provided_groups.update({group: provided for group in foundation.groups})
            self.controllers.update({controller: provided for controller in foundation.controllers})
            self.by_id.update({("Namespace", "", namespace): provided for namespace in foundation.namespaces})
            mesh_step = provided if foundation.mesh else mesh_step
        for addon_step in steps:
            addon = ADD_ONS.get(addon_step.delivers.removeprefix("addon:")) if addon_step.delivers.startswith("addon:") else None
            if addon:
                for crd in addon.crds:
                    self._first(self.crds, crd, addon_step)
                for controller in addon.controllers:
                    self._first(self.controllers, controller, addon_step)
        # kustomize's `namespace:` stamps cluster-scoped custom resources too (it cannot know
        # their scope); the API server ignores it, and so does the ledger.
        self.cluster_scoped = set(_CLUSTER_SCOPED) | {
            str(((r.get("spec") or {}).get("names") or {}).get("kind")) for r, _ in self.resources
            if r.get("kind") == "CustomResourceDefinition" and (r.get("spec") or {}).get("scope") == "Cluster"}
        for resource, step in self.resources:
            if step is None:
                continue
            kind = str(resource.get("kind"))
            self._first(self.by_id, (kind, self.scope(kind, _ns(resource)), _name(resource)), step)
            if kind == "CustomResourceDefinition":
                names = (resource.get("spec") or {}).get("names") or {}
                self._first(self.crds, (str((resource.get("spec") or {}).get("group")), str(names.get("kind"))), step)
            if kind == "Deployment" and _name(resource) == "istiod" and mesh_step is None:
                mesh_step = step
            if kind == "Deployment" and _name(resource) == "cert-manager":
                self._first(self.controllers, "cert-manager", step)
            if kind == "Deployment" and _name(resource) == PROFILE_CONTROLLER and _ns(resource) == "kubeflow":
                self._first(self.controllers, "profiles", step)
        self.mesh = mesh_step
        self.profiles: dict[str, Step] = {}  # Profile name (its namespace) -> the step its namespace appears at
        self.profile_steps: dict[str, Step] = {}  # Profile name -> the step that applies it
        # Run-time objects: the controllers that create them deliver them.
        for resource, step in self.resources:
            if step is None:
                continue
            kind, namespace = str(resource.get("kind")), _ns(resource)
            if kind == "Certificate" and _group(resource) == "cert-manager.io":
                secret = str((resource.get("spec") or {}).get("secretName") or "")
                self._first(self.by_id, ("Secret", namespace, secret), step)
            if kind == "ExternalSecret":
                target = (resource.get("spec") or {}).get("target") or {}
                self._first(self.by_id, ("Secret", namespace, str(target.get("name") or _name(resource))), step)
            if kind == "Profile" and _group(resource) == "kubeflow.org":
                self._profile(_name(resource), step)

    def _profile(self, name: str, step: Step) -> None:
        """The profile controller makes a Profile's namespace and, in it, `default-editor` and
        `default-viewer` (kubeflow/dashboard profile_controller.go, Reconcile): once the Profile
        is applied and the controller runs, whichever comes later."""
        self._first(self.profile_steps, name, step)
        controller = self.controllers.get("profiles")
        if controller is None:
            return  # SG630: nothing will ever make the namespace
        made = controller if controller.rank > step.rank else step
        self._first(self.profiles, name, made)
        for kind, object_name in (("Namespace", name), ("ServiceAccount", "default-editor"), ("ServiceAccount", "default-viewer")):
            self._first(self.by_id, (kind, "" if kind == "Namespace" else name, object_name), made)

    @staticmethod
    def _first(table: dict[t.Any, Step], key: t.Any, step: Step) -> None:
        if key not in table or step.rank < table[key].rank:
            table[key] = step

    def scope(self, kind: str, namespace: str) -> str:
        return "" if kind in self.cluster_scoped else namespace

    def namespace(self, name: str) -> Step | None | t.Literal["builtin"]:
        if name in _BUILTIN_NAMESPACES:
            return "builtin"
        return self.by_id.get(("Namespace", "", name))

    def lookup(self, kind: str, namespace: str, name: str) -> Step | None | t.Literal["builtin"]:
        """The step delivering an object, "builtin" where the cluster or a controller makes it."""
        if kind == "ConfigMap" and name == "kube-root-ca.crt":
            return self.namespace(namespace)  # kube-controller-manager publishes it in every namespace
        if kind == "ConfigMap" and name == "istio-ca-root-cert" and self.mesh is not None:
            return self.mesh  # istiod publishes its root certificate in every namespace
        if kind == "ServiceAccount" and name == "default":
            return self.namespace(namespace)
        return self.by_id.get((kind, self.scope(kind, namespace), name))


# --- checks ----------------------------------------------------------------------------

Report = t.Callable[[Resource, str, str, str], None]


def _late(provider: Step | None | t.Literal["builtin"], consumer: Step) -> bool:
    return provider is None or (provider != "builtin" and provider.rank > consumer.rank)


def _describe(provider: Step | None | t.Literal["builtin"], consumer: Step) -> str:
    if provider is None:
        return "which nothing in this cluster's sync delivers"
    assert provider != "builtin"
    return (f"which {provider.delivers} delivers ({provider.engine_object}, step {provider.rank}) only after "
            f"{consumer.delivers} ({consumer.engine_object}, step {consumer.rank}) is healthy")


def check(render: ClusterRender, steps: t.Sequence[Step], cloud: str, engine_objects: t.Sequence[Object] = (),
          provides: t.Collection[str] = ()) -> list[Problem]:
    """Every first-sync finding of one cluster's render under its engine's apply order."""
    problems: list[Problem] = []

    def report(resource: Resource, path: str, code: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(render.cluster, render.overlay, resource_id(resource), path, severity, code, message))

    ledger = Ledger(render, steps, cloud, provides)
    unknown: set[tuple[str, str]] = set()
    undelivered: set[str] = set()
    for (resource, step), origin in zip(ledger.resources, render.origins):
        if step is None:
            # Once per piece: overlays older than stack.yaml would otherwise report every object.
            if origin not in undelivered:
                undelivered.add(origin)
                report(resource, "$", "SG628", f"no engine object of this cluster delivers {origin}, which this object renders from "
                       "(are the overlays older than stack.yaml? run `stackgen build`)")
            continue
        _check_namespace(resource, step, ledger, report)
        _check_crd(resource, step, ledger, report)
        kind = str(resource.get("kind"))
        for pod_path, pod in pod_specs(resource):
            _check_pod(resource, pod_path, pod, step, ledger, report)
        if kind == "PersistentVolumeClaim":
            _check_claim(resource, step, ledger, report)
        elif kind == "ExternalSecret":
            _check_external_secret(resource, step, ledger, report)
        elif kind == "Certificate" and _group(resource) == "cert-manager.io":
            _check_certificate(resource, step, ledger, report)
        elif kind == "Service":
            _check_load_balancer(resource, ledger, report)
        elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            _check_webhook(resource, step, ledger, report)
        elif kind == "TrainJob":
            _check_train_job(resource, step, ledger, report)
        elif kind == "InferenceService":
            _check_inference_service(resource, step, ledger, report)
        elif kind == "Profile" and _group(resource) == "kubeflow.org":
            _check_profile(resource, step, ledger, report)
        elif kind == "Namespace" and _name(resource) in ledger.profile_steps:
            report(resource, "$", "SG632", f"Profile {_name(resource)} owns this namespace, but the profile controller creates it itself and "
                   "refuses one that exists without its `owner` annotation (\"namespace already exist, but not owned by profile creator\")")
        understood = kind in _PLAIN_KINDS | _POD_TEMPLATE_KINDS | {"CronJob", "Pod", "Service", "PersistentVolumeClaim"}
        if not understood and _group(resource) not in _DECLARATIVE_GROUPS and (resource.get("apiVersion"), kind) not in unknown:
            unknown.add((str(resource.get("apiVersion")), kind))
            report(resource, "$", "SG628", f"the first-sync model does not know what a {kind} needs: its prerequisites are not checked", "warning")
    _check_mesh(ledger, report)
    _check_lengths(render, engine_objects, report)
    return problems


def _check_namespace(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG621: an object in namespace `ml` needs Namespace `ml` from its own step or an earlier one.

    SG631: a Profile's namespace appears only after the Profile is applied (the profile
    controller reconciles it asynchronously), so an object in it must come at a later step: a
    RoleBinding in `team-vision` in the same step as Profile `team-vision` fails to apply."""
    namespace = _ns(resource)
    made = ledger.profiles.get(namespace)
    if namespace and made is not None and resource.get("kind") != "Namespace":
        if made.rank >= step.rank:
            report(resource, "$.metadata.namespace", "SG631",
                   f"lands in namespace {namespace}, which the profile controller creates for Profile {namespace} only once "
                   f"{made.delivers} ({made.engine_object}, step {made.rank}) is applied: deliver it in a later step")
        return
    if namespace and resource.get("kind") != "Namespace":
        provider = ledger.namespace(namespace)
        if _late(provider, step):
            report(resource, "$.metadata.namespace", "SG621", f"waits for Namespace {namespace}, {_describe(provider, step)}")


def _check_crd(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG623: an `ExternalSecret` fails to apply until the external-secrets.io CRDs exist.

    Fails: the CR's step comes before the step that installs its CRD. Passes: same step or later.
    """
    group = _group(resource)
    if "." not in group or group in _BUILTIN_GROUPS:
        return
    key = (group, str(resource.get("kind")))
    provider = ledger.crds.get(key) or ledger.provided_groups.get(group)
    if _late(provider, step):
        report(resource, "$.apiVersion", "SG623", f"waits for the CRD of {key[1]} ({group}), {_describe(provider, step)}")


def pod_specs(resource: Resource) -> t.Iterator[tuple[str, Object]]:
    """The pod specs of a workload kind, with their JSON paths."""
    kind = resource.get("kind")
    spec = resource.get("spec") or {}
    if kind == "Pod":
        yield "$.spec", spec
    elif kind in _POD_TEMPLATE_KINDS:
        yield "$.spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield "$.spec.jobTemplate.spec.template.spec", ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}


def pod_references(pod: Object) -> t.Iterator[tuple[str, str, str]]:
    """(kind, name, json path) of each Secret, ConfigMap, PVC and ServiceAccount a pod needs.

    References marked `optional: true` are left out: the kubelet starts the pod without them.
    """
    account = pod.get("serviceAccountName") or pod.get("serviceAccount")
    if account:
        yield "ServiceAccount", str(account), ".serviceAccountName"
    for index, pull in enumerate(pod.get("imagePullSecrets") or []):
        yield "Secret", str(pull.get("name")), f".imagePullSecrets[{index}]"
    for index, volume in enumerate(pod.get("volumes") or []):
        where = f".volumes[{index}]"
        if "secret" in volume and not volume["secret"].get("optional"):
            yield "Secret", str(volume["secret"].get("secretName")), f"{where}.secret"
        if "configMap" in volume and not volume["configMap"].get("optional"):
            yield "ConfigMap", str(volume["configMap"].get("name")), f"{where}.configMap"
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", str(volume["persistentVolumeClaim"].get("claimName")), f"{where}.persistentVolumeClaim"
        for source_index, source in enumerate((volume.get("projected") or {}).get("sources") or []):
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if key in source and not source[key].get("optional"):
                    yield kind, str(source[key].get("name")), f"{where}.projected.sources[{source_index}].{key}"
    for group in ("initContainers", "containers"):
        for index, container in enumerate(pod.get(group) or []):
            where = f".{group}[{index}]"
            for env_index, env in enumerate(container.get("env") or []):
                source = env.get("valueFrom") or {}
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if key in source and not source[key].get("optional"):
                        yield kind, str(source[key].get("name")), f"{where}.env[{env_index}].valueFrom.{key}"
            for env_index, env in enumerate(container.get("envFrom") or []):
                for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if key in env and not env[key].get("optional"):
                        yield kind, str(env[key].get("name")), f"{where}.envFrom[{env_index}].{key}"


def _check_pod(resource: Resource, path: str, pod: Object, step: Step, ledger: Ledger, report: Report) -> None:
    """SG620 / SG621: a Deployment mounting Secret `auth/dex-passwords` fails when the step that
    delivers that Secret comes after the Deployment's own; it passes at the same step or before."""
    namespace = _ns(resource)
    for kind, name, where in pod_references(pod):
        provider = ledger.lookup(kind, namespace, name)
        if _late(provider, step):
            code = "SG620" if kind in ("Secret", "ConfigMap") else "SG621"
            report(resource, path + where, code, f"waits for {kind} {namespace}/{name}, {_describe(provider, step)}")


def _check_claim(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG621: a PVC of StorageClass `gp3` needs that class from its step or before, or the cloud's
    own; a ReadWriteMany claim on block storage (`gp3`, `pd-balanced`, `managed-csi`) never binds."""
    spec = resource.get("spec") or {}
    storage_class = spec.get("storageClassName")
    if "ReadWriteMany" in (spec.get("accessModes") or []) and storage_class in BLOCK_STORAGE_CLASSES:
        report(resource, "$.spec.accessModes", "SG621", f"asks ReadWriteMany of StorageClass {storage_class}, block storage that "
               "attaches to one node: the claim stays Pending (give the cluster a file-system storageClass)")
    if not storage_class or ledger.cloud == "onprem" or storage_class in _CLOUD_STORAGE_CLASSES.get(ledger.cloud, frozenset()):
        return
    provider = ledger.lookup("StorageClass", "", str(storage_class))
    if _late(provider, step):
        report(resource, "$.spec.storageClassName", "SG621", f"waits for StorageClass {storage_class}, {_describe(provider, step)}")


def _check_external_secret(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG622: an ExternalSecret makes its Secret only once the ESO controller runs (an earlier
    step) and its SecretStore exists (its step or before)."""
    spec = resource.get("spec") or {}
    controller = ledger.controllers.get("external-secrets")
    if controller is None or controller.rank >= step.rank:
        report(resource, "$", "SG622", "its Secret needs the External Secrets controller, "
               + (_describe(controller, step).replace("only after", "not before") if controller else "which nothing in this cluster's sync installs"))
    store = spec.get("secretStoreRef") or {}
    kind = str(store.get("kind") or "SecretStore")
    provider = ledger.lookup(kind, _ns(resource) if kind == "SecretStore" else "", str(store.get("name")))
    if _late(provider, step):
        report(resource, "$.spec.secretStoreRef", "SG622", f"waits for {kind} {store.get('name')}, {_describe(provider, step)}")


def _check_certificate(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG622: a Certificate needs cert-manager running and its Issuer delivered, at its step or before.

    Pass: the gateway's Certificate and the ACME ClusterIssuer it names, both in the cluster's
    own folder, after cert-manager's unit. Pass: a ClusterIssuer the cluster already has, named
    by stack.yaml (`tls.clusterIssuer`, recorded as the `stackgen.io/provided-issuer` annotation).
    Fail: a Certificate whose Issuer only a later step delivers.
    """
    controller = ledger.controllers.get("cert-manager")
    if _late(controller, step):
        report(resource, "$", "SG622", f"its Secret needs cert-manager, {_describe(controller, step)}")
    issuer = (resource.get("spec") or {}).get("issuerRef") or {}
    kind = str(issuer.get("kind") or "Issuer")
    provided = (_meta(resource).get("annotations") or {}).get(PROVIDED_ISSUER)
    if kind == "ClusterIssuer" and provided is not None and provided == issuer.get("name"):
        return  # a ClusterIssuer the cluster already has (stack.yaml `tls.clusterIssuer`): no step delivers it
    provider = ledger.lookup(kind, _ns(resource) if kind == "Issuer" else "", str(issuer.get("name")))
    if _late(provider, step):
        report(resource, "$.spec.issuerRef", "SG622", f"waits for {kind} {issuer.get('name')}, {_describe(provider, step)}")


# LoadBalancer annotations that hand a Service to a controller other than the cloud's own.
# `aws-load-balancer-type: external` (and `nlb-ip`) is the AWS Load Balancer Controller's; the
# in-tree cloud provider takes `nlb` (AWS Load Balancer Controller docs, "Network Load Balancer").
_LB_CONTROLLERS: t.Mapping[tuple[str, str], str] = {
    ("service.beta.kubernetes.io/aws-load-balancer-type", "external"): "aws-load-balancer-controller",
    ("service.beta.kubernetes.io/aws-load-balancer-type", "nlb-ip"): "aws-load-balancer-controller",
}
# Clouds whose own cloud controller manager serves `type: LoadBalancer` out of the box.
_CLOUD_LB = frozenset({"aws", "gcp", "azure"})


def _check_load_balancer(resource: Resource, ledger: Ledger, report: Report) -> None:
    """SG625: on EKS `aws-load-balancer-type: external` fails without the AWS Load Balancer
    Controller (the Service never gets an address, so the step never turns healthy); `nlb` passes."""
    spec = resource.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return
    annotations = _meta(resource).get("annotations") or {}
    for (key, value), controller in sorted(_LB_CONTROLLERS.items()):
        if annotations.get(key) == value and controller not in ledger.controllers:
            report(resource, f"$.metadata.annotations['{key}']", "SG625",
                   f"`{key}: {value}` hands the Service to the {controller}, which nothing installs: it never gets an address")
            return
    if spec.get("loadBalancerClass") is None and ledger.cloud not in _CLOUD_LB:
        report(resource, "$.spec.type", "SG625", f"a LoadBalancer Service on {ledger.cloud} needs a load balancer controller (MetalLB, ...), which nothing installs")


def _selector_matches(selector: Object | None, labels: t.Mapping[str, str]) -> bool:
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y") and not lower.endswith(("ay", "ey", "oy")):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def _check_webhook(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG624: a webhook with `failurePolicy: Fail` rejects what it matches until its backend
    Deployment is ready: an object it matches, applied at or after the webhook's step but before
    the backend's, never applies. Passes when the backend comes no later than what it admits."""
    namespaces = {_name(r): {str(k): str(v) for k, v in (_meta(r).get("labels") or {}).items()}
                  for r, _ in ledger.resources if r.get("kind") == "Namespace"}
    for index, webhook in enumerate(resource.get("webhooks") or []):
        if webhook.get("failurePolicy", "Fail") != "Fail":
            continue
        service = (webhook.get("clientConfig") or {}).get("service")
        if not service:
            continue
        backend = _backend(ledger, str(service.get("namespace")), str(service.get("name")))
        if backend is None:
            report(resource, f"$.webhooks[{index}]", "SG624", f"webhook {webhook.get('name')} calls Service {service.get('namespace')}/{service.get('name')}, "
                   "which no Deployment in this cluster's sync backs")
            continue
        if backend.rank <= step.rank:
            continue
        for other, other_step in ledger.resources:
            if other_step is None or not (step.rank <= other_step.rank < backend.rank):
                continue
            if _admits(webhook, other, namespaces):
                report(other, "$", "SG624", f"admitted by webhook {webhook.get('name')} ({_name(resource)}, failurePolicy Fail), "
                       f"whose backend {service.get('namespace')}/{service.get('name')} {backend.delivers} delivers at step {backend.rank}, "
                       f"after this object's {other_step.delivers} at step {other_step.rank}")


def _backend(ledger: Ledger, namespace: str, name: str) -> Step | None:
    service = next((r for r, s in ledger.resources if r.get("kind") == "Service" and _ns(r) == namespace and _name(r) == name), None)
    if service is None:
        return None
    selector = (service.get("spec") or {}).get("selector") or {}
    for other, step in ledger.resources:
        if other.get("kind") in ("Deployment", "StatefulSet", "DaemonSet") and _ns(other) == namespace and step is not None:
            labels = ((other.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                return step
    return None


def _admits(webhook: Object, resource: Resource, namespaces: t.Mapping[str, t.Mapping[str, str]]) -> bool:
    group, kind = _group(resource), str(resource.get("kind"))
    targets = [(group, _plural(kind))] + [("", "pods") for _ in pod_specs(resource)]
    namespace = _ns(resource)
    labels = dict(namespaces.get(namespace, {}))
    labels.setdefault("kubernetes.io/metadata.name", namespace)
    if namespace and not _selector_matches(webhook.get("namespaceSelector"), labels):
        return False
    if not _selector_matches(webhook.get("objectSelector"), {str(k): str(v) for k, v in (_meta(resource).get("labels") or {}).items()}):
        return False
    for rule in webhook.get("rules") or []:
        operations = rule.get("operations") or []
        if "*" not in operations and "CREATE" not in operations:
            continue
        for target_group, target_resource in targets:
            resources = rule.get("resources") or []
            if (("*" in (rule.get("apiGroups") or [])) or target_group in (rule.get("apiGroups") or [])) and \
                    ("*" in resources or "*/*" in resources or target_resource in resources):
                return True
    return False


def _check_train_job(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG621 / SG620: a TrainJob's pods need what their overrides name; a claim that several
    nodes mount must be ReadWriteMany (ReadWriteOnce attaches to one node: Multi-Attach error)."""
    spec = resource.get("spec") or {}
    runtime = (spec.get("runtimeRef") or {}).get("name")
    provider = ledger.lookup("ClusterTrainingRuntime", "", str(runtime))
    if _late(provider, step):
        report(resource, "$.spec.runtimeRef", "SG621", f"waits for ClusterTrainingRuntime {runtime}, {_describe(provider, step)}")
    trainer = spec.get("trainer") or {}
    _check_pod(resource, "$.spec.trainer", {"containers": [{"env": trainer.get("env") or []}]}, step, ledger, report)
    nodes = int(trainer.get("numNodes") or 1)
    for index, override in enumerate(spec.get("podTemplateOverrides") or []):
        pod = override.get("spec") or {}
        _check_pod(resource, f"$.spec.podTemplateOverrides[{index}].spec", pod, step, ledger, report)
        for volume in pod.get("volumes") or []:
            claim_name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            claim = next((r for r, _ in ledger.resources if r.get("kind") == "PersistentVolumeClaim"
                          and _ns(r) == _ns(resource) and _name(r) == claim_name), None)
            modes = ((claim or {}).get("spec") or {}).get("accessModes") or []
            if claim is not None and nodes > 1 and "ReadWriteMany" not in modes and "ReadOnlyMany" not in modes:
                report(resource, f"$.spec.podTemplateOverrides[{index}].spec.volumes", "SG621",
                       f"{nodes} nodes mount PersistentVolumeClaim {_ns(resource)}/{claim_name}, whose access modes {modes} attach to one node")


def _check_profile(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG630: a Profile becomes a namespace only through the profile controller
    (kubeflow/profiles-deployment): fails when no step delivers it, or one after the Profile's
    (the Profile applies, but nothing in its namespace can until then). Passes at the same step."""
    controller = ledger.controllers.get("profiles")
    if _late(controller, step):
        report(resource, "$", "SG630", f"its namespace needs the profile controller, {_describe(controller, step)}")
        return
    # The controller owns Istio AuthorizationPolicies (SetupWithManager: Owns(&AuthorizationPolicy{}))
    # and writes one per Profile before the namespace's service accounts: without Istio's CRD
    # it never gets that far (controller-runtime cannot watch a kind the API server lacks).
    policies = ledger.crds.get(("security.istio.io", "AuthorizationPolicy"))
    if _late(policies, step):
        report(resource, "$", "SG630", "its namespace's accounts need the profile controller to write an Istio AuthorizationPolicy, "
               f"whose CRD is {_describe(policies, step).removeprefix('which ')}")


def _check_inference_service(resource: Resource, step: Step, ledger: Ledger, report: Report) -> None:
    """SG621: an InferenceService's predictor runs as its service account: delivered by then."""
    predictor = (resource.get("spec") or {}).get("predictor") or {}
    _check_pod(resource, "$.spec.predictor", predictor, step, ledger, report)


def _check_mesh(ledger: Ledger, report: Report) -> None:
    """SG626: with Kubeflow's `istio-system/global-deny-all` (an AuthorizationPolicy with an empty
    spec in the root namespace), a namespace stackgen labels `istio-injection: enabled` needs an
    ALLOW AuthorizationPolicy of its own, or every request to its pods is denied."""
    deny_all = any(r.get("kind") == "AuthorizationPolicy" and _ns(r) == "istio-system" and not r.get("spec")
                   for r, _ in ledger.resources)
    if not deny_all:
        return
    allowed = {_ns(r) for r, _ in ledger.resources if r.get("kind") == "AuthorizationPolicy"
               and (r.get("spec") or {}).get("action", "ALLOW") == "ALLOW" and (r.get("spec") or {}).get("rules")}
    for resource, step in ledger.resources:
        if resource.get("kind") != "Namespace" or step is None or not step.delivers.endswith("/own"):
            continue
        if (_meta(resource).get("labels") or {}).get("istio-injection") == "enabled" and _name(resource) not in allowed:
            report(resource, "$.metadata.labels['istio-injection']", "SG626",
                   f"joins the mesh under istio-system/global-deny-all, but no ALLOW AuthorizationPolicy in {_name(resource)} lets its pods talk")


def _check_lengths(render: ClusterRender, engine_objects: t.Sequence[Object], report: Report) -> None:
    """SG627: an engine object's name becomes a label value on every object it applies (Flux's
    `kustomize.toolkit.fluxcd.io/name`, Argo CD's `app.kubernetes.io/instance` where label
    tracking is chosen): over 63 characters, the apply fails. So do labels stackgen writes."""
    for body in engine_objects:
        name = _name(body)
        if len(name) > LABEL_LIMIT:
            report(body, "$.metadata.name", "SG627", f"name `{name}` has {len(name)} characters; label values take at most {LABEL_LIMIT}")
        _check_labels(body, report)
    for resource, origin in zip(render.resources, render.origins):
        if origin.endswith("/own"):
            _check_labels(resource, report)
            if resource.get("kind") in ("Namespace", "Service") and len(_name(resource)) > LABEL_LIMIT:
                report(resource, "$.metadata.name", "SG627", f"name `{_name(resource)}` exceeds {LABEL_LIMIT} characters")


def _check_labels(resource: Resource, report: Report) -> None:
    for key, value in sorted((_meta(resource).get("labels") or {}).items()):
        if len(str(value)) > LABEL_LIMIT:
            report(resource, f"$.metadata.labels['{key}']", "SG627", f"label value `{value}` has {len(str(value))} characters; at most {LABEL_LIMIT}")


def engine_objects_of(cluster: str, engine_files: t.Mapping[str, bytes]) -> list[Object]:
    """The Argo CD / Flux objects stackgen wrote for one cluster (kustomizations left out)."""
    objects = []
    for path, content in sorted(engine_files.items()):
        parts = path.split("/")
        if len(parts) >= 4 and parts[0] == "gitops" and parts[2] == cluster:
            body = yamlio.load(content) or {}
            if not str(body.get("apiVersion", "")).startswith("kustomize.config.k8s.io"):
                objects.append(body)
    return objects


def verify_cluster(render: ClusterRender, engine_files: t.Mapping[str, bytes], repo_path: str, cloud: str,
                   provides: t.Collection[str] = ()) -> list[Problem]:
    """The first-sync findings of one cluster: its steps from the engine files, then the checks.
    `provides` names the foundations the cluster already runs (present before the first step)."""
    steps = steps_of(render.cluster, engine_files, repo_path)
    found = check(render, steps, cloud, engine_objects_of(render.cluster, engine_files), provides)
    unique = {(p.resource, p.path, p.code, p.message): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.cluster, p.code, p.resource, p.path, p.message))
