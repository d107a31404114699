"""Every overlay really builds with kustomize against the pinned upstream (no network).

The overlays are copied, their remote URLs (and upstream's own remote bases) mapped onto
../shared/upstream, and each cluster built with the real kustomize.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from stackgen import catalog, mirror, render, verify
from stackgen import kustomize as kz
from stackgen.compile import images
from stackgen.compile.overlays import Compiled
from stackgen.driver import compile_checked
from tests import image_catalog
from tests.compiling import BUNDLED, CASES, ROOT, checked, compiled
from tests.upstream import UPSTREAM, requires_upstream

# libyaml's loader: a full cluster render is megabytes, which pure-Python YAML parses for tens of seconds.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

pytestmark = requires_upstream
Resource = dict[str, t.Any]

# Keys of upstream's default-credential Secrets that name rather than authenticate (user names,
# client and access-key ids): their values are not credentials, so no digest is kept for them.
_NOT_SECRET_KEYS = frozenset({"username", "MYSQL_USER_NAME", "OIDC_CLIENT_ID", "client-id", "accesskey"})


def _write(files: dict[str, bytes], root: Path) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


@pytest.fixture(scope="session")
def bundled() -> Compiled:
    return compile_checked(checked(BUNDLED))


@pytest.fixture(scope="session")
def bundled_overlays(tmp_path_factory: pytest.TempPathFactory, bundled: Compiled) -> Path:
    return _write(bundled.files, tmp_path_factory.mktemp("bundled") / "overlays")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory, bundled_overlays: Path) -> mirror.Workspace:
    """The bundled stack's overlays plus the full-catalog case, mapped onto the mirror."""
    source = tmp_path_factory.mktemp("overlays")
    shutil.copytree(bundled_overlays, source / "bundled")
    _write(compiled(CASES / "positive" / "full-catalog" / "stack.yaml"), source / "full-catalog")
    write_catalog_paths(source / "catalog", "26.03")
    return mirror.materialize(mirror.open_mirror(UPSTREAM), source, tmp_path_factory.mktemp("work"))


def catalog_paths(release: str) -> dict[str, set[str]]:
    """Every upstream path of the catalog at `release`, on every cloud and on edge -> the components using it."""
    users: dict[str, set[str]] = collections.defaultdict(set)
    for component in catalog.COMPONENTS:
        for cloud in ("onprem", "gcp", "aws", "azure"):
            for edge in (False, True):
                for path in catalog.paths_of(component.name, cloud, edge, release):
                    users[path].add(component.name)
    return dict(users)


def write_catalog_paths(root: Path, release: str) -> None:
    """One kustomization per catalog path at `release`, naming just that remote base."""
    for path in catalog_paths(release):
        target = root / path.replace("/", "__")
        target.mkdir(parents=True, exist_ok=True)
        (target / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [catalog.remote_url(path, release)]}))


def build_catalog_paths(root: Path, release: str, kustomize: kz.Kustomize) -> dict[str, list[Resource]]:
    """Each catalog path built alone (from `write_catalog_paths` under `root`, mapped): path -> its resources."""
    def build(path: str) -> tuple[str, list[Resource]]:
        return path, [x for x in yaml.load_all(kz.build(kustomize, root / path.replace("/", "__")), Loader=_FAST_LOADER) if x]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(build, sorted(catalog_paths(release))))


@pytest.fixture(scope="session")
def catalog_renders(workspace: mirror.Workspace, kustomize: kz.Kustomize) -> dict[str, list[Resource]]:
    """Each catalog path built alone: upstream path -> its resources."""
    return build_catalog_paths(workspace.overlays / "catalog", "26.03", kustomize)


@pytest.fixture(scope="session")
def renders(workspace: mirror.Workspace, kustomize: kz.Kustomize) -> dict[str, list[Resource]]:
    clusters = sorted((workspace.overlays / "bundled" / "clusters").iterdir()) + [
        workspace.overlays / "full-catalog" / "clusters" / "all-in-one"
    ]

    def build(directory: Path) -> tuple[str, list[Resource]]:
        return directory.name, [d for d in yaml.load_all(kz.build(kustomize, directory), Loader=_FAST_LOADER) if d]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(build, clusters))


def _ids(resources: list[Resource]) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]) for r in resources}


def test_every_catalog_path_builds_alone(catalog_renders: dict[str, list[Resource]]) -> None:
    counts = {path: len(resources) for path, resources in catalog_renders.items()}
    assert len(counts) >= 30
    assert all(count > 0 for count in counts.values()), counts


def test_image_catalog_is_fresh(catalog_renders: dict[str, list[Resource]], kustomize: kz.Kustomize, tmp_path: Path, update_goldens: bool) -> None:
    """`images-26.03.yaml` says where each component's render names images: container names for
    kustomize's `images:`, and what is left after `images:` ran, for `replacements:`."""
    check_image_catalog("26.03", UPSTREAM, catalog_renders, kustomize, tmp_path, update_goldens)


def check_image_catalog(release: str, mirror_root: Path, catalog_renders: dict[str, list[Resource]], kustomize: kz.Kustomize,
                        tmp_path: Path, update_goldens: bool) -> None:
    """`images-<release>.yaml` generated from the real render of every catalog path, compared (or written)."""
    mirror_host = "mirror.stackgen.invalid"
    names = {path: image_catalog.container_names(resources) for path, resources in catalog_renders.items()}
    source = tmp_path / "overlays"
    for path, found in names.items():
        target = source / path.replace("/", "__")
        target.mkdir(parents=True)
        body = {"resources": [catalog.remote_url(path, release)],
                "images": [{"name": n, "newName": images.mirrored_name(n, mirror_host)} for n in found]}
        (target / "kustomization.yaml").write_text(yaml.safe_dump(body))
    work = mirror.materialize(mirror.open_mirror(mirror_root), source, tmp_path / "work")
    with ThreadPoolExecutor(max_workers=2) as pool:
        after = dict(pool.map(lambda p: (p, [x for x in yaml.load_all(kz.build(kustomize, work.overlays / p.replace("/", "__")), Loader=_FAST_LOADER) if x]), sorted(names)))
    per_component: dict[str, tuple[set[str], list[Resource]]] = collections.defaultdict(lambda: (set(), []))
    for path, components in catalog_paths(release).items():
        for component in components:
            per_component[component][0].update(names[path])
            per_component[component][1].extend(after[path])
    entries = {c: image_catalog.catalog_entry(tuple(sorted(n)), r, mirror_host) for c, (n, r) in per_component.items()}
    text = image_catalog.dump_catalog(release, entries)
    target = ROOT / "stackgen" / "compile" / images.catalog_file(release)
    if update_goldens:
        target.write_text(text, encoding="utf-8")
    assert target.read_text("utf-8") == text, "image catalog is stale: python3 -m pytest tests/test_upstream_builds.py tests/test_releases.py -k image_catalog --update-goldens"


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
    # The in-tree cloud provider's internal NLB: nothing installs the AWS Load Balancer Controller,
    # which `aws-load-balancer-type: external` (and `-scheme`) would need.
    annotations = gateway("aws-use1")["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert "service.beta.kubernetes.io/aws-load-balancer-scheme" not in annotations
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


# --- the render stage: each distinct unit once, assembled, equal to plain builds ------------


@pytest.fixture(scope="session")
def xdg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render cache for the session, shared by the stage tests and the CLI runs."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="session")
def staged(bundled_overlays: Path, bundled: Compiled, kustomize: kz.Kustomize, xdg_cache: Path) -> render.RenderResult:
    cache = render.cache_root({"XDG_CACHE_HOME": str(xdg_cache)})
    return render.render(bundled_overlays, UPSTREAM, kustomize, bundled.layout, jobs=2, cache=cache, pristine=True)


def _canonical(resources: t.Iterable[Resource]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in resources)


def _issuer_misdirected(resource: Resource) -> Resource:
    """Undo the one rewrite a whole-cluster build adds (see verify SG616)."""
    issuer = resource.get("spec", {}).get("issuerRef", {}).get("name")
    if resource["apiVersion"] == "cert-manager.io/v1" and resource["kind"] == "Certificate" \
            and issuer == "admission-webhook-selfsigned-issuer" and resource["metadata"].get("labels", {}).get("app") == "kserve":
        return {**resource, "spec": {**resource["spec"], "issuerRef": {**resource["spec"]["issuerRef"], "name": "selfsigned-issuer"}}}
    return resource


def test_assembled_render_equals_a_plain_build_of_every_cluster(staged: render.RenderResult, renders: dict[str, list[Resource]]) -> None:
    """Equal, resource for resource, but for one upstream collision a plain build gets wrong.

    Argo CD and Flux sync each unit on its own, so the per-unit render is what deploys; in one
    kustomization, KServe's Certificates are pointed at the admission webhook's Issuer.
    """
    assert [c.cluster for c in staged.clusters] == ["aws-use1", "azure-weu", "edge-store17", "gcp-euw4"]
    for cluster in staged.clusters:
        assert cluster.error is None
        plain = renders[cluster.cluster]
        assert _canonical(cluster.resources) == _canonical(_issuer_misdirected(r) for r in plain), cluster.cluster
    azure_plain = renders["azure-weu"]
    misdirected = [r for r in azure_plain if _issuer_misdirected(r) is not r]
    assert sorted(r["metadata"]["name"] for r in misdirected) == ["llmisvc-serving-cert", "serving-cert"]


def test_each_distinct_unit_is_built_once_and_then_cached(staged: render.RenderResult, bundled_overlays: Path, bundled: Compiled,
                                                         kustomize: kz.Kustomize, tmp_path_factory: pytest.TempPathFactory) -> None:
    layout = bundled.layout
    units = {p for paths in layout.clusters.values() for p in paths}
    # A per-cluster unit of only files (a cluster's credentials over a shared unit) builds only
    # its own files; the shared unit under it is built once for every cluster that uses it.
    thin = {p: piece.base for p in units if (piece := layout.pieces[p]).base and not piece.patches}
    assert "units/pipelines-aws-use1" in thin and thin["units/auth-azure-weu"] == "units/auth"
    # A cluster's own values (its ingress host, its EKS issuer) patch named objects of a shared
    # unit from a small one over it: Istio and KServe are built once, not once per cluster.
    over = {p: piece.base for p in units if (piece := layout.pieces[p]).base and piece.patches}
    assert {p: base for p, base in over.items() if not p.startswith("units/auth")} == {
        "units/istio-gcp-euw4": "units/istio-gcp", "units/kserve-edge-store17": "units/kserve-edge"}
    everything = units | set(thin.values()) | set(over.values())
    modified = [p for p in everything if layout.pieces[p].base is None and layout.pieces[p].modifies_upstream]
    assert staged.built == len(everything) + len(modified)  # shared units (kubeflow-namespace, cert-manager...) once
    cache = tmp_path_factory.mktemp("warm")
    render.render(bundled_overlays, UPSTREAM, kustomize, layout, clusters=["edge-store17"], cache=cache)
    again = render.render(bundled_overlays, UPSTREAM, kustomize, layout, clusters=["edge-store17"], cache=cache)
    # kubeflow-namespace, cert-manager, own/; the shared kserve-edge as upstream's KServe (also
    # what goldens diff against) and its edge layer's objects built again over it; the
    # cluster's patched objects over those.
    assert (again.built, again.cached) == (0, 3 + 2 + 1)


def test_a_broken_overlay_fails_its_own_cluster_only(bundled_overlays: Path, bundled: Compiled, kustomize: kz.Kustomize, tmp_path: Path) -> None:
    broken = tmp_path / "overlays"
    shutil.copytree(bundled_overlays, broken)
    # The shared unit under edge-store17's own values: the cluster fails through the unit it uses.
    (broken / "units" / "kserve-edge" / "kustomization.yaml").write_text("resources:\n- does-not-exist.yaml\n")
    result = render.render(broken, UPSTREAM, kustomize, bundled.layout, clusters=["edge-store17", "gcp-euw4"], jobs=2, cache=tmp_path / "cache")
    edge, gcp = result.clusters
    assert edge.error and "units/kserve-edge-store17: units/kserve-edge:" in edge.error and "does-not-exist.yaml" in edge.error
    assert gcp.error is None and gcp.resources


def test_bundled_render_verifies_and_workloads_match_their_real_crds(staged: render.RenderResult) -> None:
    versions = {"aws-use1": "1.31", "azure-weu": "1.30", "edge-store17": "1.30", "gcp-euw4": "1.32"}
    declared = verify.declared_vars(UPSTREAM)
    for cluster in staged.clusters:
        problems = verify.verify(cluster, versions[cluster.cluster], UPSTREAM / "crds", declared)
        assert [p.render() for p in problems if p.severity == "error"] == [], cluster.cluster
        kinds = {r["kind"] for r, o in zip(cluster.resources, cluster.origins) if o.endswith("/own")}
        assert [p for p in problems if p.code == "SG601" and p.resource.split("/")[-3] in kinds] == []
    aws = next(c for c in staged.clusters if c.cluster == "aws-use1")
    assert any(r["kind"] == "CustomResourceDefinition" and r["spec"]["names"]["kind"] == "TrainJob" for r in aws.resources)


def test_verify_catches_the_upstream_jobset_defect_in_the_pristine_trainer(staged: render.RenderResult) -> None:
    pristine = staged.pristine["units/trainer"]
    cluster = render.ClusterRender("aws-use1", "clusters/aws-use1", tuple(pristine), ("units/trainer",) * len(pristine))
    problems = verify.verify(cluster, "1.31", UPSTREAM / "crds", verify.declared_vars(UPSTREAM))
    assert any(p.code == "SG614" and "jobsets.jobset.x-k8s.io" in p.resource for p in problems)


def test_verify_flags_the_misdirected_issuer_of_a_whole_cluster_build(staged: render.RenderResult, renders: dict[str, list[Resource]]) -> None:
    azure = next(c for c in staged.clusters if c.cluster == "azure-weu")
    origin_of = {json.dumps({**r, "spec": None}, sort_keys=True): o for r, o in zip(azure.resources, azure.origins)}
    plain = tuple(renders["azure-weu"])
    origins = tuple(origin_of.get(json.dumps({**r, "spec": None}, sort_keys=True), "units/kserve") for r in plain)
    problems = verify.verify(render.ClusterRender("azure-weu", "clusters/azure-weu", plain, origins), "1.30", None, frozenset())
    assert sorted(p.resource for p in problems if p.code == "SG616") == [
        "cert-manager.io/v1/Certificate/kubeflow/llmisvc-serving-cert",
        "cert-manager.io/v1/Certificate/kubeflow/serving-cert",
    ]


# --- the render, diff and vendor commands ------------------------------------------------


def _cli(args: list[str], xdg_cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "XDG_CACHE_HOME": str(xdg_cache), **env}
    return subprocess.run([sys.executable, "-c", "from stackgen.cli import main; main()", *args],
                          capture_output=True, text=True, env=environment, timeout=600, cwd=ROOT)


def test_this_projects_golden_is_fresh(staged: render.RenderResult, xdg_cache: Path) -> None:
    done = _cli(["render", "--check", "--upstream", str(UPSTREAM), "-f", str(BUNDLED)], xdg_cache)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "golden up to date" in done.stdout
    assert not [p for p in (ROOT / "golden").rglob("*") if p.is_file() and p.stat().st_size > 200_000]


def test_golden_made_with_another_kustomize_is_fresh_for_check(staged: render.RenderResult, xdg_cache: Path, tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    shutil.copytree(ROOT / "golden", tmp_path / "golden")
    for index in (tmp_path / "golden").glob("*/index.yaml"):
        text = index.read_text()
        assert "\nkustomize: v" in text
        index.write_text(re.sub(r"(?m)^kustomize: .*$", "kustomize: v9.9.9", text, count=1))
    assert _cli(["build", "-f", str(tmp_path / "stack.yaml")], xdg_cache).returncode == 0
    done = _cli(["render", "--check", "--upstream", str(UPSTREAM), "-f", str(tmp_path / "stack.yaml")], xdg_cache)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "golden up to date" in done.stdout
    assert "kustomize: v9.9.9" in (tmp_path / "golden" / "aws-use1" / "index.yaml").read_text()


def test_diff_of_one_changed_field_names_exactly_that(staged: render.RenderResult, xdg_cache: Path, tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    shutil.copytree(ROOT / "golden", tmp_path / "golden")
    stack = tmp_path / "stack.yaml"
    stack.write_text(stack.read_text().replace("format: pytorch, serveOn: [serving, edge], replicas: 2", "format: pytorch, serveOn: [serving, edge], replicas: 5"))
    assert _cli(["build", "-f", str(stack)], xdg_cache).returncode == 0
    done = _cli(["diff", "--upstream", str(UPSTREAM), "-f", str(stack), "--format", "json"], xdg_cache)
    assert done.returncode == 1, done.stderr
    body = json.loads(done.stdout)
    changed = {d["cluster"]: d["changes"] for d in body if d["changes"]}
    assert sorted(changed) == ["azure-weu", "edge-store17", "gcp-euw4"]  # the clusters that serve it
    for changes in changed.values():
        [change] = changes
        assert change["resource"] == "serving.kserve.io/v1beta1/InferenceService/ml/resnet50"
        assert {"path": "spec.predictor.minReplicas", "old": 2, "new": 5} in change["fields"]


def test_render_without_kustomize_or_mirror_exits_2(xdg_cache: Path, tmp_path: Path) -> None:
    # A kustomize named that is not there (with nothing on PATH; the one beside stackgen, where the
    # [kustomize] extra is installed, is the unit tests' business: test_kustomize.py).
    no_tools = _cli(["render", "--upstream", str(UPSTREAM), "-f", str(BUNDLED), "-o", str(tmp_path / "g")], xdg_cache,
                    PATH=str(tmp_path), STACKGEN_KUSTOMIZE=str(tmp_path / "no-kustomize"))
    assert no_tools.returncode == 2 and "no kustomize found" in no_tools.stderr and "pip install" in no_tools.stderr
    no_mirror = _cli(["render", "-f", str(BUNDLED), "-o", str(tmp_path / "g")], tmp_path / "empty-cache", STACKGEN_UPSTREAM="")
    assert no_mirror.returncode == 2 and "stackgen vendor --from" in no_mirror.stderr
    assert not (tmp_path / "g").exists()


def test_vendor_fills_the_cache_render_then_uses_it(xdg_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "xdg"
    done = _cli(["vendor", "--from", str(UPSTREAM)], cache)
    assert done.returncode == 0, done.stderr
    assert (cache / "stackgen" / "upstream" / "26.03" / "remotes.yaml").is_file()
    assert (cache / "stackgen" / "upstream" / "26.03" / "crds").is_dir()


def test_materialize_never_changes_the_mirror(workspace: mirror.Workspace) -> None:
    """The workspace hard-links the mirror; rewritten kustomizations must be new files."""
    original = UPSTREAM / "kubeflow-manifests/applications/trainer/upstream/third-party/jobset/kustomization.yaml"
    rewritten = workspace.upstream / "kubeflow-manifests/applications/trainer/upstream/third-party/jobset/kustomization.yaml"
    assert "https://github.com/kubernetes-sigs/jobset/releases/download/v0.10.1/manifests.yaml" in original.read_text()
    assert "https://" not in rewritten.read_text().split("resources:")[1].split("patches:")[0]
    assert not os.path.samefile(original, rewritten)


def test_per_cluster_ingress_host_and_s3_endpoint_reach_the_render(renders: dict[str, list[Resource]]) -> None:
    [gateway] = [r for r in renders["gcp-euw4"] if r["kind"] == "Gateway" and r["metadata"]["name"] == "kubeflow-gateway"]
    assert gateway["spec"]["servers"][0]["hosts"] == ["ml.euw4.acme.example.com"]
    [aws_gateway] = [r for r in renders["aws-use1"] if r["kind"] == "Gateway" and r["metadata"]["name"] == "kubeflow-gateway"]
    assert aws_gateway["spec"]["servers"][0]["hosts"] == ["*"]
    edge = renders["edge-store17"]
    [config] = [r for r in edge if r["kind"] == "ConfigMap" and r["metadata"]["name"] == "inferenceservice-config"]
    ingress = yaml.safe_load(config["data"]["ingress"])
    assert (ingress["ingressDomain"], ingress["ingressClassName"]) == ("store17.edge.acme.example.com", "nginx")
    assert yaml.safe_load(config["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    # KServe reads the endpoint from the S3 Secret listed on the service account (annotations on
    # the account itself count only with IRSA): the account lists it, ESO annotates it.
    [account] = [r for r in edge if r["kind"] == "ServiceAccount" and r["metadata"]["name"] == "stackgen-workload"]
    assert account["secrets"] == [{"name": "minio"}] and "annotations" not in account["metadata"]
    [keys] = [r for r in edge if r["kind"] == "ExternalSecret" and r["metadata"]["name"] == "minio"]
    assert keys["spec"]["target"]["template"]["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.store17.lan:9000", "serving.kserve.io/s3-usehttps": "0"}


# --- air-gap: spec.registry.mirror -----------------------------------------------------------


def test_registry_mirror_leaves_no_image_outside_it(xdg_cache: Path, tmp_path: Path) -> None:
    """Built, rendered and verified (SG617 proves every image is in the mirror); `images` lists the copies to make."""
    shutil.copy(CASES / "positive" / "registry-mirror" / "stack.yaml", tmp_path / "stack.yaml")
    stack = str(tmp_path / "stack.yaml")
    assert _cli(["build", "-f", stack], xdg_cache).returncode == 0
    done = _cli(["render", "--upstream", str(UPSTREAM), "-f", stack, "--format", "json"], xdg_cache)
    assert done.returncode == 0, done.stderr
    assert [p for p in json.loads(done.stdout) if p["severity"] == "error"] == []
    listed = _cli(["images", "--upstream", str(UPSTREAM), "-f", stack, "--format", "json"], xdg_cache)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert sorted(body) == ["dc1", "shop-001"]
    mirror = "registry.acme.internal:5000/kubeflow"
    for pulled in body.values():
        assert all(i["target"] == f"{mirror}/{i['source']}" and not i["source"].startswith(mirror) for i in pulled)
    sources = {i["source"] for i in body["dc1"]}
    assert {"ghcr.io/acme/demand:2.1", "docker.io/kserve/agent:v0.16.0", "quay.io/argoproj/argoexec:v3.7.3"} <= sources
    assert len(body["shop-001"]) < len(body["dc1"])  # the edge pulls core KServe only


def test_images_of_the_bundled_stack_without_a_mirror(staged: render.RenderResult, xdg_cache: Path) -> None:
    done = _cli(["images", "--upstream", str(UPSTREAM), "-f", str(BUNDLED), "--cluster", "edge-store17"], xdg_cache)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# edge-store17: ") and "docker.io/kserve/kserve-controller:v0.16.0" in lines
    assert all(" " not in line for line in lines[1:])  # no mirror: sources only


# --- upstream's default credentials ---------------------------------------------------------


def _secrets_pods_use(resource: Resource) -> t.Iterator[str]:
    """Names of Secrets a resource's pods read: env, envFrom and volumes."""
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key in ("secretKeyRef", "secretRef") and isinstance(value, dict) and "name" in value:
                yield value["name"]
            elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                yield value["secretName"]
            else:
                yield from _secrets_pods_use(value)
    elif isinstance(resource, list):
        for item in resource:
            yield from _secrets_pods_use(item)


def test_default_credentials_become_references_the_pods_really_use(renders: dict[str, list[Resource]]) -> None:
    checked = 0
    for cluster, resources in renders.items():
        rendered = {(r["metadata"].get("namespace"), r["metadata"]["name"]) for r in resources if r["kind"] == "Secret"}
        targets = {(r["metadata"]["namespace"], r["spec"]["target"]["name"]) for r in resources if r["kind"] == "ExternalSecret"}
        used = {(r["metadata"].get("namespace"), name) for r in resources if r["kind"] in ("Deployment", "StatefulSet") for name in _secrets_pods_use(r)}
        for credential in catalog.DEFAULT_CREDENTIALS:
            # Once the generated Secret is deleted its users ask for the declared name, never
            # the hashed one (oauth2-proxy's Deployment: `oauth2-proxy`, not `oauth2-proxy-<hash>`).
            assert (credential.namespace, credential.rendered) not in used or credential.rendered == credential.name, (cluster, credential)
            identity = (credential.namespace, credential.name)
            if identity in used:
                checked += 1
                assert identity in targets and identity not in rendered, (cluster, identity)
        problems = verify.verify(render.ClusterRender(cluster, cluster, tuple(resources), ("units/x",) * len(resources)), "1.31", None, frozenset())
        assert [p for p in problems if p.code == "SG618"] == [], cluster
    assert checked >= 7 + 3  # all seven on the full-catalog cluster, auth's three on the bundled ones


def test_default_credential_digests_cover_the_pins_defaults(workspace: mirror.Workspace, catalog_renders: dict[str, list[Resource]]) -> None:
    """DEFAULT_CREDENTIAL_DIGESTS holds a digest of every secret value upstream's defaults carry."""
    found = set()
    for resources in catalog_renders.values():
        for r in resources:
            if r["kind"] == "Secret" and any((r["metadata"].get("namespace", "kubeflow"), r["metadata"]["name"]) == (c.namespace, c.rendered)
                                              for c in catalog.DEFAULT_CREDENTIALS):
                values = {**{k: base64.b64decode(v) for k, v in (r.get("data") or {}).items()},
                          **{k: str(v).encode() for k, v in (r.get("stringData") or {}).items()}}
                found |= {hashlib.sha256(v).hexdigest() for k, v in values.items() if v and k not in _NOT_SECRET_KEYS}
    assert found == catalog.DEFAULT_CREDENTIAL_DIGESTS
