"""Every overlay really builds with kustomize against the pinned upstream (no network).

The overlays are copied, their remote URLs (and upstream's own remote bases) mapped onto
../shared/upstream, and each cluster built with the real kustomize.
"""

from __future__ import annotations

import collections
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from stackgen import catalog
from stackgen import kustomize as kz
from stackgen import mirror
from tests.compiling import BUNDLED, CASES, compiled
from tests.upstream import UPSTREAM, requires_upstream

pytestmark = requires_upstream
Resource = dict[str, t.Any]


def _write(files: dict[str, bytes], root: Path) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


@pytest.fixture(scope="session")
def kustomize() -> kz.Kustomize:
    try:
        return kz.find_kustomize()
    except kz.KustomizeNotFound as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> mirror.Workspace:
    """The bundled stack's overlays plus the full-catalog case, mapped onto the mirror."""
    source = tmp_path_factory.mktemp("overlays")
    _write(compiled(BUNDLED), source / "bundled")
    _write(compiled(CASES / "positive" / "full-catalog" / "stack.yaml"), source / "full-catalog")
    paths = source / "catalog"
    for component in catalog.COMPONENTS:
        for cloud in ("onprem", "gcp", "aws"):
            for edge in (False, True):
                for path in catalog.paths_of(component.name, cloud, edge):
                    target = paths / path.replace("/", "__")
                    target.mkdir(parents=True, exist_ok=True)
                    (target / "kustomization.yaml").write_text(
                        yaml.safe_dump({"resources": [catalog.remote_url(path, "26.03")]})
                    )
    return mirror.materialize(mirror.open_mirror(UPSTREAM), source, tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="session")
def renders(workspace: mirror.Workspace, kustomize: kz.Kustomize) -> dict[str, list[Resource]]:
    clusters = sorted((workspace.overlays / "bundled" / "clusters").iterdir()) + [
        workspace.overlays / "full-catalog" / "clusters" / "all-in-one"
    ]

    def build(directory: Path) -> tuple[str, list[Resource]]:
        return directory.name, [d for d in yaml.safe_load_all(kz.build(kustomize, directory)) if d]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(build, clusters))


def _ids(resources: list[Resource]) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]) for r in resources}


def test_every_catalog_path_builds_alone(workspace: mirror.Workspace, kustomize: kz.Kustomize) -> None:
    directories = sorted((workspace.overlays / "catalog").iterdir())
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(pool.map(lambda d: (d.name, len([x for x in yaml.safe_load_all(kz.build(kustomize, d)) if x])), directories))
    assert len(counts) >= 30
    assert all(count > 0 for count in counts.values()), counts


def test_every_bundled_cluster_builds_with_its_components(renders: dict[str, list[Resource]]) -> None:
    aws, gcp = _ids(renders["aws-use1"]), _ids(renders["gcp-euw4"])
    assert ("Deployment", "kubeflow", "ml-pipeline") in aws  # pipelines on
    assert ("Deployment", "kubeflow", "ml-pipeline") not in gcp  # pipelines off
    assert ("Deployment", "kubeflow", "kserve-controller-manager") in gcp
    assert ("TrainJob", "ml", "resnet50") in aws
    for cluster in ("gcp-euw4", "azure-weu", "edge-store17"):
        assert ("InferenceService", "ml", "resnet50") in _ids(renders[cluster])


def test_edge_render_has_no_istio_knative_or_dex(renders: dict[str, list[Resource]]) -> None:
    edge = renders["edge-store17"]
    groups = {r["apiVersion"].split("/")[0] for r in edge}
    namespaces = {r["metadata"].get("namespace") for r in edge} | {r["metadata"]["name"] for r in edge if r["kind"] == "Namespace"}
    assert not {g for g in groups if "istio" in g or "knative" in g}
    assert not {"istio-system", "knative-serving", "auth", "oauth2-proxy"} & namespaces
    [config] = [r for r in edge if r["kind"] == "ConfigMap" and r["metadata"]["name"] == "inferenceservice-config"]
    assert yaml.safe_load(config["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    assert yaml.safe_load(config["data"]["ingress"])["ingressClassName"] == "nginx"


def test_upstream_defects_are_fixed_not_copied(renders: dict[str, list[Resource]]) -> None:
    for name, resources in renders.items():
        text = yaml.safe_dump_all(resources)
        assert "$(CERTIFICATE_NAMESPACE)" not in text, name
    [jobset] = [r for r in renders["aws-use1"] if r["kind"] == "CustomResourceDefinition" and r["metadata"]["name"] == "jobsets.jobset.x-k8s.io"]
    assert "cert-manager.io/inject-ca-from" not in jobset["metadata"].get("annotations", {})
    [issuer] = [r for r in renders["aws-use1"] if r["kind"] == "RequestAuthentication" and r["metadata"]["name"] == "m2m-token-issuer"]
    assert issuer["spec"]["jwtRules"][0]["issuer"] == "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def test_cloud_layers_reach_the_ingress_gateway(renders: dict[str, list[Resource]]) -> None:
    def gateway(cluster: str) -> Resource:
        return next(r for r in renders[cluster] if r["kind"] == "Service" and r["metadata"]["name"] == "istio-ingressgateway")

    assert gateway("aws-use1")["spec"]["type"] == "LoadBalancer"
    assert gateway("aws-use1")["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert gateway("gcp-euw4")["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert "azure-load-balancer-internal" in str(gateway("azure-weu")["metadata"]["annotations"])


def test_full_catalog_cluster_builds_without_duplicates(renders: dict[str, list[Resource]]) -> None:
    resources = renders["all-in-one"]
    ids = collections.Counter((r["apiVersion"], r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]) for r in resources)
    assert [i for i, n in ids.items() if n > 1] == []
    kinds = {r["kind"] for r in resources}
    assert not {"TrainJob", "InferenceService"} & kinds  # the case declares no workloads
    for marker in ("ml-pipeline", "katib-controller", "spark-operator-controller", "training-operator", "model-registry-deployment"):
        assert any(r["kind"] == "Deployment" and r["metadata"]["name"] == marker for r in resources), marker


def test_model_registry_gets_its_namespace_from_stackgen(renders: dict[str, list[Resource]]) -> None:
    registry = [r for r in renders["aws-use1"] if "model-registry" in r["metadata"]["name"] and r["kind"] in ("Deployment", "Service")]
    assert registry and all(r["metadata"].get("namespace") == "kubeflow" for r in registry)


def test_unmapped_remote_is_a_clear_error(tmp_path: Path) -> None:
    overlays = tmp_path / "o"
    (overlays / "units" / "x").mkdir(parents=True)
    (overlays / "units" / "x" / "kustomization.yaml").write_text("resources:\n- https://github.com/acme/private//base?ref=v1\n")
    with pytest.raises(mirror.MirrorError, match=r"units/x/kustomization.yaml: remote base https://github.com/acme/private//base\?ref=v1 has no entry"):
        mirror.materialize(mirror.open_mirror(UPSTREAM), overlays, tmp_path / "w")
