"""GitOps engine objects: how each cluster's units and own objects reach the cluster.

One Argo CD Application or Flux Kustomization per (cluster, unit), plus one for the cluster's
own objects and one per add-on, ordered from the catalog's dependency graph (sync waves or
`dependsOn`), never by annotating upstream resources. Each cluster's engine objects live in
their own folder, `gitops/<engine>/<cluster>/`, and name only that cluster: in the standalone
topology a cluster's own engine reads just that folder, so no cluster holds another's
credentials and one cluster's failure cannot block another.

Argo CD uses an app-of-apps per cluster rather than an ApplicationSet: ApplicationSet ignores
sync waves, and the waves are what order CRDs and namespaces before what needs them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import typing as t
from dataclasses import dataclass

from stackgen import catalog, yamlio
from stackgen.model import Cluster, Stack

if t.TYPE_CHECKING:  # place imports compile.stores, so a runtime import here would be a cycle
    from stackgen.place import ClusterPlan, Placement

Object = dict[str, t.Any]
ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class HelmChart:
    """A pinned Helm release of a cluster add-on upstream does not ship."""

    name: str
    repository: str
    chart: str
    version: str
    namespace: str
    values: t.Mapping[str, t.Any]
    # Catalog components the chart cannot install without (e.g. its webhooks' certificates).
    needs: tuple[str, ...] = ()


# External Secrets Operator at the version of the CRDs stackgen validates against.
EXTERNAL_SECRETS = HelmChart("external-secrets", "https://charts.external-secrets.io", "external-secrets", "2.9.0", "external-secrets",
                             {"installCRDs": True})
# Recorded GPU operator releases (NVIDIA: 2025-04 release line; AMD: ROCm gpu-operator 1.2).
GPU_OPERATORS = {
    "nvidia": HelmChart("gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "gpu-operator", "v25.3.0", "gpu-operator",
                        {"driver": {"enabled": True}, "toolkit": {"enabled": True}}),
    # The AMD operator's webhook certificates come from cert-manager: it installs after it.
    "amd": HelmChart("amd-gpu-operator", "https://rocm.github.io/gpu-operator", "gpu-operator-charts", "v1.2.0", "kube-amd-gpu", {},
                     needs=("cert-manager",)),
}
# Managed clouds' GPU node images already ship the NVIDIA driver (EKS accelerated AMIs, GKE's
# driver installer, AKS GPU node pools): a second driver from the operator would fight it.
# GKE keeps it under /home/kubernetes/bin/nvidia and needs CDI (GKE's GPU Operator guide).
NVIDIA_CLOUD_VALUES: t.Mapping[str, t.Mapping[str, t.Any]] = {
    "aws": {"driver": {"enabled": False}, "toolkit": {"enabled": True}},
    "azure": {"driver": {"enabled": False}, "toolkit": {"enabled": True}},
    "gcp": {
        "driver": {"enabled": False},
        "toolkit": {"enabled": True, "installDir": "/home/kubernetes/bin/nvidia"},
        "hostPaths": {"driverInstallDir": "/home/kubernetes/bin/nvidia"},
        "cdi": {"enabled": True, "default": True},
    },
}


@dataclass(frozen=True)
class SyncUnit:
    """What one engine object deploys: a unit (or the cluster's own folder) and its order."""

    name: str  # unit name, or "own"
    path: str  # repository path
    wave: int
    needs: tuple[str, ...]  # other SyncUnit names of the same cluster it must follow
    component: str = ""  # the catalog component a unit deploys ("" for own)
    # The unit carries ExternalSecrets (upstream credentials replaced): it follows the add-ons.
    after_add_ons: bool = False


def add_ons(stack: Stack, plan: ClusterPlan) -> tuple[HelmChart, ...]:
    charts = []
    # A foundation the cluster provides (`provides`) is never installed a second time: two
    # External Secrets or GPU operators would fight over the same CRDs and nodes.
    provided = set(plan.cluster.provides)
    if (plan.secrets or plan.credentials) and "external-secrets" not in provided:
        charts.append(EXTERNAL_SECRETS)
    if plan.cluster.gpu is not None and "gpu-operator" not in provided:
        chart = GPU_OPERATORS[plan.cluster.gpu.vendor]
        if plan.cluster.gpu.vendor == "nvidia" and plan.cluster.cloud in NVIDIA_CLOUD_VALUES:
            chart = dataclasses.replace(chart, values=NVIDIA_CLOUD_VALUES[plan.cluster.cloud])
        charts.append(chart)
    return tuple(charts)


def add_on_needs(chart: HelmChart, units: t.Sequence[SyncUnit]) -> tuple[SyncUnit, ...]:
    """The cluster's units an add-on installs after (those deploying what its chart needs)."""
    return tuple(u for u in units if u.component and u.component in chart.needs)


def sync_units(stack: Stack, plan: ClusterPlan, unit_names: t.Sequence[str]) -> tuple[SyncUnit, ...]:
    """Units in dependency order with waves from the catalog graph, then the cluster's own folder."""
    edge = plan.cluster.is_edge
    by_component = dict(zip(plan.component_names, unit_names))
    root = stack.gitops.path
    units = [
        SyncUnit(
            name=by_component[component],
            path=f"{root}/units/{by_component[component]}",
            wave=10 * (1 + catalog.depth(component, edge)),
            needs=tuple(by_component[n] for n in catalog.needs_of(component, edge) if n in by_component),
            component=component,
            after_add_ons=any((c.namespace, c.name) in shipped for c in plan.credentials for shipped in
                              [{(d.namespace, d.name) for d in catalog.default_credentials(component)}]),
        )
        for component in plan.component_names
    ]
    last = max((u.wave for u in units), default=0)
    add_on_names = tuple(chart.name for chart in add_ons(stack, plan))
    units.append(SyncUnit("own", f"{root}/clusters/{plan.cluster.name}/own", last + 10, tuple(u.name for u in units) + add_on_names))
    return tuple(units)


def engine_files(stack: Stack, placement: Placement, cluster_units: t.Mapping[str, t.Sequence[str]]) -> dict[str, Object]:
    """Repository-relative path under gitops/ -> object, for the stack's engine."""
    files: dict[str, Object] = {}
    for plan in placement.plans:
        units = sync_units(stack, plan, cluster_units[plan.cluster.name])
        charts = add_ons(stack, plan)
        if stack.gitops.engine == "argocd":
            files.update(_argocd(stack, plan.cluster, units, charts))
        else:
            files.update(_flux(stack, plan.cluster, units, charts))
    if stack.gitops.topology == "hub":
        # The management cluster applies every cluster's entry point from one place.
        entries = [f"{p.cluster.name}/root.yaml" if stack.gitops.engine == "argocd" else p.cluster.name for p in placement.plans]
        files[f"{stack.gitops.engine}/kustomization.yaml"] = _kustomization(entries)
    return files


def _kustomization(resources: t.Sequence[str]) -> Object:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(resources)}


NAME_LIMIT = 63
"""Engine object names become label values on everything they apply (Flux's
`kustomize.toolkit.fluxcd.io/name`, helm-controller's `helm.toolkit.fluxcd.io/name`, Argo CD's
`app.kubernetes.io/instance` under label tracking): a label value takes at most 63 characters."""


def object_name(cluster: Cluster, suffix: str) -> str:
    """`<cluster>-<suffix>`, or where that exceeds 63 characters its first 54 and 8 hex digits of
    its sha256: deterministic, unique in practice, and still readable from the front."""
    name = f"{cluster.name}-{suffix}"
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:NAME_LIMIT - 9].rstrip('-')}-{digest}"


def _labels(cluster: Cluster) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": "stackgen", "stackgen.io/cluster": cluster.name}
    if cluster.wave:  # spec.rollout.waves: `kubectl get applications -l stackgen.io/wave=canary` finds a wave
        labels["stackgen.io/wave"] = cluster.wave
    return labels


def _destination(stack: Stack, cluster: Cluster) -> str:
    if stack.gitops.topology == "hub":
        assert cluster.server, "validate refuses hub clusters without a server (SG210)"
        return cluster.server
    return IN_CLUSTER


# --- Argo CD -----------------------------------------------------------------------------

_CA_BUNDLES = [
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration", "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration", "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition", "jsonPointers": ["/spec/conversion/webhook/clientConfig/caBundle"]},
]
_SYNC_OPTIONS = [
    "ServerSideApply=true",  # Kubeflow's CRDs exceed the client-side last-applied annotation limit
    "SkipDryRunOnMissingResource=true",  # custom resources whose CRD arrives in the same sync
    "CreateNamespace=true",
    "RespectIgnoreDifferences=true",  # cert-manager owns the injected caBundle fields
]
_RETRY = {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
# What every Application shares, written once per fleet (yamlio.constant): never changed after.
_APPLICATION_SYNC = yamlio.constant({"automated": {"prune": True, "selfHeal": True}, "syncOptions": list(_SYNC_OPTIONS), "retry": _RETRY})
_APPLICATION_IGNORED = yamlio.constant([dict(item) for item in _CA_BUNDLES])
_ROOT_SYNC = yamlio.constant({"automated": {"prune": True, "selfHeal": True},
                              "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}})


def _application(stack: Stack, cluster: Cluster, name: str, wave: int, source: Object, namespace: str | None = None) -> Object:
    destination: Object = {"server": _destination(stack, cluster)}
    if namespace:
        destination["namespace"] = namespace
    # No resources-finalizer: deleting an Application never cascades into its CRDs (and with
    # them every custom resource of the cluster); removal is an explicit, reviewed act.
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": object_name(cluster, name),
            "namespace": ARGOCD_NAMESPACE,
            "labels": _labels(cluster),
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave)},
        },
        "spec": {
            "project": cluster.name,
            "source": source,
            "destination": destination,
            "syncPolicy": _APPLICATION_SYNC,
            "ignoreDifferences": _APPLICATION_IGNORED,
        },
    }


def _argocd(stack: Stack, cluster: Cluster, units: tuple[SyncUnit, ...], charts: tuple[HelmChart, ...]) -> dict[str, Object]:
    root = f"argocd/{cluster.name}"
    git = stack.gitops
    files: dict[str, Object] = {
        f"{root}/apps/appproject.yaml": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            # Wave -1 of the app-of-apps: the project exists before any Application that names it.
            "metadata": {"name": cluster.name, "namespace": ARGOCD_NAMESPACE, "labels": _labels(cluster),
                         "annotations": {"argocd.argoproj.io/sync-wave": "-1"}},
            "spec": {
                "description": f"stackgen: everything deployed to cluster {cluster.name}",
                "sourceRepos": [git.repo_url] + [chart.repository for chart in charts],
                "destinations": [{"server": _destination(stack, cluster), "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        },
    }
    for unit in units:
        source: Object = {"repoURL": git.repo_url, "targetRevision": cluster.revision or git.revision, "path": unit.path}
        files[f"{root}/apps/{unit.name}.yaml"] = _application(stack, cluster, unit.name, unit.wave, source)
    for chart in charts:
        source = {"repoURL": chart.repository, "chart": chart.chart, "targetRevision": chart.version,
                  "helm": {"releaseName": chart.name, "valuesObject": dict(chart.values)}}
        # Add-ons go first (the cluster's own ExternalSecrets and GPU jobs need them), right after
        # what their chart needs, if anything; units sit on multiples of 10, `own` after them all.
        wave = max((u.wave + 1 for u in add_on_needs(chart, units)), default=0)
        files[f"{root}/apps/addon-{chart.name}.yaml"] = _application(stack, cluster, chart.name, wave, source, chart.namespace)
    files[f"{root}/root.yaml"] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": object_name(cluster, "root"), "namespace": ARGOCD_NAMESPACE, "labels": _labels(cluster)},
        "spec": {
            "project": "default",
            "source": {"repoURL": git.repo_url, "targetRevision": cluster.revision or git.revision, "path": f"{git.path}/gitops/{root}/apps"},
            # The app-of-apps creates Applications in the engine's own cluster, whatever the topology.
            "destination": {"server": IN_CLUSTER, "namespace": ARGOCD_NAMESPACE},
            "syncPolicy": _ROOT_SYNC,
        },
    }
    return files


# --- Flux --------------------------------------------------------------------------------


def _flux(stack: Stack, cluster: Cluster, units: tuple[SyncUnit, ...], charts: tuple[HelmChart, ...]) -> dict[str, Object]:
    root = f"flux/{cluster.name}"
    git = stack.gitops
    source_name = object_name(cluster, "repo")
    repository: Object = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": source_name, "namespace": FLUX_NAMESPACE, "labels": _labels(cluster)},
        "spec": {"interval": "5m", "url": flux_url(git.repo_url), "ref": flux_ref(cluster.revision or git.revision)},
    }
    if not git.repo_url.startswith("https://"):
        repository["spec"]["secretRef"] = {"name": "stackgen-git-credentials"}  # SSH key the operator creates
    files: dict[str, Object] = {f"{root}/gitrepository.yaml": repository}
    # The cluster's entry point: applied once by hand (docs/gitops.md), it then keeps this whole
    # folder, itself included, in step with git. It runs where Flux runs (no kubeConfig) and does
    # not wait on the units it creates, so one slow unit never holds the others back.
    files[f"{root}/root.yaml"] = _flux_kustomization(stack, cluster, "root", f"{git.path}/gitops/{root}", (), source_name, remote=False, wait=False)
    names = ["gitrepository.yaml", "root.yaml"]
    if charts:
        # The HelmReleases live beside the engine and reach the cluster by their own kubeConfig,
        # so this Kustomization applies them locally even in the hub topology.
        # ... and only after what their charts need (the AMD operator: cert-manager).
        addon_needs = sorted({u.name for chart in charts for u in add_on_needs(chart, units)})
        files[f"{root}/kustomization-addons.yaml"] = _flux_kustomization(
            stack, cluster, "addons", f"{git.path}/gitops/{root}/addons", addon_needs, source_name, remote=False)
        names.append("kustomization-addons.yaml")
        addon_files = []
        for chart in charts:
            files[f"{root}/addons/{chart.name}.yaml"] = _helm_release(stack, cluster, chart)
            files[f"{root}/addons/{chart.name}-repository.yaml"] = {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": object_name(cluster, chart.name), "namespace": FLUX_NAMESPACE, "labels": _labels(cluster)},
                "spec": {"interval": "1h", "url": chart.repository},
            }
            addon_files += [f"{chart.name}-repository.yaml", f"{chart.name}.yaml"]
        files[f"{root}/addons/kustomization.yaml"] = _kustomization(sorted(addon_files))
    for unit in units:
        needs = unit.needs
        if unit.after_add_ons and charts:
            needs += ("addons",)  # its ExternalSecrets need the External Secrets Operator running
        if unit.name == "own":
            needs = tuple(n for n in needs if n not in {c.name for c in charts}) + (("addons",) if charts else ())
        files[f"{root}/kustomization-{unit.name}.yaml"] = _flux_kustomization(stack, cluster, unit.name, unit.path, needs, source_name)
        names.append(f"kustomization-{unit.name}.yaml")
    files[f"{root}/kustomization.yaml"] = _kustomization(names)
    return files


_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_VERSION_TAG = re.compile(r"v?[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.-]+)?")


def flux_ref(revision: str) -> Object:
    """Argo CD's `targetRevision` takes a branch, tag or commit alike; Flux must be told which.

    A full commit SHA is a commit, `refs/...` a full reference, a version (`v1.2.0`, `26.03`) a
    tag, anything else a branch. A tag that does not look like a version needs `refs/tags/<tag>`.
    """
    if _COMMIT.fullmatch(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    if _VERSION_TAG.fullmatch(revision):
        return {"tag": revision}
    return {"branch": revision}


def flux_url(url: str) -> str:
    """Flux takes ssh:// URLs only: `git@host:org/repo.git` -> `ssh://git@host/org/repo.git`."""
    if url.startswith("git@") and ":" in url:
        host, _, path = url.partition(":")
        return f"ssh://{host}/{path}"
    return url


def _kube_config(stack: Stack, cluster: Cluster) -> Object | None:
    # The hub reaches each cluster with a kubeconfig Secret the operator creates: never written here.
    return {"secretRef": {"name": f"{cluster.name}-kubeconfig"}} if stack.gitops.topology == "hub" else None


def _flux_kustomization(stack: Stack, cluster: Cluster, name: str, path: str, needs: t.Sequence[str], source: str,
                        remote: bool = True, wait: bool = True) -> Object:
    spec: Object = {
        "interval": "10m",
        "retryInterval": "2m",
        "timeout": "10m",
        "path": f"./{path}",
        "prune": True,
        # Pruning stays on within a unit (a resource upstream drops goes), but deleting the
        # Kustomization itself (a component leaves the cluster) orphans its objects rather than
        # deleting CRDs, and with them every custom resource, or PVCs holding data: removal is
        # an explicit, reviewed act (the Argo CD side has no resources-finalizer, for the same reason).
        "deletionPolicy": "Orphan",
        "wait": wait,
        "sourceRef": {"kind": "GitRepository", "name": source},
    }
    if needs:
        spec["dependsOn"] = [{"name": object_name(cluster, need)} for need in needs]
    kube_config = _kube_config(stack, cluster) if remote else None
    if kube_config:
        spec["kubeConfig"] = kube_config
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": object_name(cluster, name), "namespace": FLUX_NAMESPACE, "labels": _labels(cluster)},
        "spec": spec,
    }


def _helm_release(stack: Stack, cluster: Cluster, chart: HelmChart) -> Object:
    spec: Object = {
        "interval": "1h",
        "releaseName": chart.name,
        "targetNamespace": chart.namespace,
        # Helm's release records live on the cluster the chart goes to (through kubeConfig in the
        # hub); the default, the HelmRelease's own flux-system, exists only on the engine's cluster.
        "storageNamespace": chart.namespace,
        "install": {"createNamespace": True, "crds": "CreateReplace", "remediation": {"retries": 3}},
        "upgrade": {"crds": "CreateReplace", "remediation": {"retries": 3}},
        "chart": {"spec": {"chart": chart.chart, "version": chart.version,
                           "sourceRef": {"kind": "HelmRepository", "name": object_name(cluster, chart.name)}}},
        "values": dict(chart.values),
    }
    kube_config = _kube_config(stack, cluster)
    if kube_config:
        spec["kubeConfig"] = kube_config
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": object_name(cluster, chart.name), "namespace": FLUX_NAMESPACE, "labels": _labels(cluster)},
        "spec": spec,
    }
