"""GitOps delivery: every engine object validates against the real CRDs; clusters stay isolated."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import crds, write
from stackgen.compile import gitops
from stackgen.compile.overlays import compile_stack
from stackgen.load import load_bytes
from stackgen.validate import validate
from tests.compiling import BUNDLED, CASES, checked, compiled, placed
from tests.crd_schemas import load_crd_schemas
from tests.upstream import UPSTREAM, requires_upstream

GITOPS_CASES = [CASES / "positive" / name / "stack.yaml" for name in ("gitops-argocd-hub", "gitops-flux-standalone", "gitops-flux-hub")]


def _variants() -> list[tuple[str, str, str]]:
    text = BUNDLED.read_text()
    out = []
    for engine in ("argocd", "flux"):
        for topology in ("standalone", "hub"):
            out.append((engine, topology, text.replace("engine: argocd", f"engine: {engine}").replace("topology: standalone", f"topology: {topology}")))
    return out


def _objects(files: dict[str, bytes]) -> dict[str, dict[str, t.Any]]:
    return {path: yaml.safe_load(content) for path, content in files.items() if path.startswith("gitops/")}


def _compile_text(text: str, tmp_path: Path) -> dict[str, bytes]:
    stack = tmp_path / "stack.yaml"
    stack.write_text(text)
    return compiled(stack)


@requires_upstream
@pytest.mark.parametrize(("engine", "topology", "text"), _variants(), ids=[f"{e}-{t}" for e, t, _ in _variants()])
def test_every_engine_object_validates_against_the_real_crds(engine: str, topology: str, text: str, tmp_path: Path) -> None:
    schemas = crds.schemas_from_dir(UPSTREAM / "crds")
    objects = _objects(_compile_text(text, tmp_path))
    kinds = set()
    for path, body in objects.items():
        if body["kind"] == "Kustomization" and body["apiVersion"].startswith("kustomize.config.k8s.io"):
            continue  # a kustomize file that gathers the engine objects, not a custom resource
        errors = crds.validate_object(body, schemas)
        assert errors == [], (path, errors)
        kinds.add(body["kind"])
    expected = {"argocd": {"Application", "AppProject"}, "flux": {"GitRepository", "Kustomization", "HelmRelease", "HelmRepository"}}[engine]
    assert expected <= kinds


@requires_upstream
@pytest.mark.parametrize("case", GITOPS_CASES, ids=[c.parent.name for c in GITOPS_CASES])
def test_gitops_cases_validate_against_the_real_crds(case: Path) -> None:
    schemas = crds.schemas_from_dir(UPSTREAM / "crds")
    for path, body in _objects(compiled(case)).items():
        if body["apiVersion"].startswith("kustomize.config.k8s.io"):
            continue
        assert crds.validate_object(body, schemas) == [], path


def test_argocd_waves_follow_the_dependency_graph() -> None:
    files = compiled(BUNDLED)
    apps = {p.rsplit("/", 1)[-1][:-5]: yaml.safe_load(c) for p, c in files.items() if p.startswith("gitops/argocd/aws-use1/apps/")}
    wave = {name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, app in apps.items() if app["kind"] == "Application"}
    assert wave["kubeflow-namespace"] < wave["istio-aws"] < wave["auth-aws-use1"] < wave["pipelines-aws-use1"] < wave["own"]
    # The External Secrets Operator comes before every unit whose credentials it materialises.
    assert wave["addon-external-secrets"] < wave["kubeflow-namespace"]
    assert wave["cert-manager"] < wave["trainer"]
    assert all(w < wave["own"] for name, w in wave.items() if name != "own")
    trainer = apps["trainer"]
    assert "ServerSideApply=true" in trainer["spec"]["syncPolicy"]["syncOptions"]
    assert "finalizers" not in trainer["metadata"]
    assert trainer["spec"]["source"] == {"repoURL": "https://github.com/acme/ml-platform.git", "targetRevision": "main", "path": "overlays/units/trainer"}


def test_flux_depends_on_mirrors_the_graph_and_hub_uses_kubeconfigs(tmp_path: Path) -> None:
    files = _compile_text(BUNDLED.read_text().replace("engine: argocd", "engine: flux").replace("topology: standalone", "topology: hub"), tmp_path)
    pipelines = yaml.safe_load(files["gitops/flux/aws-use1/kustomization-pipelines-aws-use1.yaml"])
    # ... and the add-ons: its credentials' ExternalSecrets need the External Secrets Operator.
    assert sorted(d["name"] for d in pipelines["spec"]["dependsOn"]) == [
        "aws-use1-addons", "aws-use1-auth-aws-use1", "aws-use1-cert-manager", "aws-use1-istio-aws", "aws-use1-profiles"]
    assert pipelines["spec"]["kubeConfig"] == {"secretRef": {"name": "aws-use1-kubeconfig"}}
    assert pipelines["spec"]["wait"] is True and pipelines["spec"]["prune"] is True
    own = yaml.safe_load(files["gitops/flux/aws-use1/kustomization-own.yaml"])
    assert {"name": "aws-use1-addons"} in own["spec"]["dependsOn"]
    release = yaml.safe_load(files["gitops/flux/aws-use1/addons/gpu-operator.yaml"])
    assert release["spec"]["chart"]["spec"]["version"] == "v25.3.0"
    assert release["spec"]["kubeConfig"] == {"secretRef": {"name": "aws-use1-kubeconfig"}}
    addons = yaml.safe_load(files["gitops/flux/aws-use1/kustomization-addons.yaml"])
    assert "kubeConfig" not in addons["spec"]  # HelmReleases are applied beside the engine
    assert yaml.safe_load(files["gitops/flux/kustomization.yaml"])["resources"] == ["aws-use1", "azure-weu", "edge-store17", "gcp-euw4"]


def test_hub_needs_every_server() -> None:
    text = BUNDLED.read_text().replace("topology: standalone", "topology: hub").replace("      server: https://10.17.0.10:6443\n", "")
    [diagnostic] = validate(load_bytes(text.encode()))
    line = text.splitlines().index("    - name: edge-store17") + 1  # at the cluster's mapping
    assert (diagnostic.code, diagnostic.line) == ("SG210", line) and "edge-store17" in diagnostic.message


def test_no_engine_object_of_one_cluster_names_another() -> None:
    files = compiled(BUNDLED)
    names = [c.name for c in checked(BUNDLED).stack.clusters]  # type: ignore[union-attr]
    for path, content in files.items():
        if path.startswith("gitops/argocd/"):
            owner = path.split("/")[2]
            others = [n for n in names if n != owner]
            assert not any(other in content.decode() for other in others), path


def test_removing_a_cluster_changes_no_file_of_another(tmp_path: Path) -> None:
    before = compiled(BUNDLED)
    text = BUNDLED.read_text()
    start, end = text.index("    - name: azure-weu"), text.index("    - name: edge-store17")
    kept = "".join(line for line in (text[:start] + text[end:]).splitlines(keepends=True) if "runsOn: [azure-weu]" not in line)
    after = _compile_text(kept, tmp_path)  # its keys to the model bucket go with it
    assert {p: c for p, c in after.items() if before.get(p) != c} == {}  # nothing changed, only removed
    for cluster in ("aws-use1", "edge-store17", "gcp-euw4"):
        own = {p for p in before if p.startswith((f"clusters/{cluster}/", f"gitops/argocd/{cluster}/"))}
        assert own <= set(after), cluster
    assert not any("azure-weu" in p for p in after)


def test_switching_engine_prunes_the_old_engine_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    write.write(out, compiled(BUNDLED))
    (out / "gitops" / "README.md").write_text("ours")
    flux = _compile_text(BUNDLED.read_text().replace("engine: argocd", "engine: flux"), tmp_path)
    changes = write.write(out, flux)
    assert changes.removed and all(p.startswith("gitops/argocd/") for p in changes.removed)
    assert not (out / "gitops" / "argocd").exists()
    assert (out / "gitops" / "flux" / "aws-use1" / "kustomization.yaml").is_file()
    assert (out / "gitops" / "README.md").read_text() == "ours"


def test_no_credentials_are_written() -> None:
    for path, content in compiled(CASES / "positive" / "gitops-flux-standalone" / "stack.yaml").items():
        body = yaml.safe_load(content)
        assert body.get("kind") != "Secret", path
    repository = yaml.safe_load(compiled(CASES / "positive" / "gitops-flux-standalone" / "stack.yaml")["gitops/flux/gpu-east/gitrepository.yaml"])
    assert repository["spec"]["secretRef"] == {"name": "stackgen-git-credentials"}
    assert repository["spec"]["url"] == "ssh://git@github.com/acme/fleet.git"


# --- delivery details: refs, add-ons, deletion safety, repo paths, isolation ---------------------

_SMALL = """
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: small}
spec:
  gitops: {engine: ENGINE, topology: TOPOLOGY, repoURL: "https://git.example.com/ml/fleet.git", revision: "REVISION", path: deploy/ml}
  clusters:
    - {name: rocm-a, cloud: onprem, region: ber, kubernetesVersion: "1.31", roles: [training], server: "https://10.0.0.1:6443", gpu: {vendor: amd, type: mi300x}}
    - {name: gke-b, cloud: gcp, region: us-east4, kubernetesVersion: "1.33", roles: [serving], server: "https://34.1.2.3", gpu: {vendor: nvidia, type: l4}, identity: {gcpServiceAccount: ml@acme-ml.iam.gserviceaccount.com}}
    - {name: dgx-c, cloud: onprem, region: muc, kubernetesVersion: "1.31", roles: [training], server: "https://10.0.0.2:6443", gpu: {vendor: nvidia, type: a100}}
  components:
    pipelines: {runsOn: [gke-b]}
    spark: {runsOn: [rocm-a]}
  secrets:
    - {name: token, store: vault, key: "https://vault.example.com:8200/secret/ml/token", runsOn: [gke-b], auth: {secretRef: {name: vault-token}}}
"""


def _small_text(engine: str = "argocd", topology: str = "standalone", revision: str = "main") -> str:
    return _SMALL.replace("ENGINE", engine).replace("TOPOLOGY", topology).replace("REVISION", revision)


def _small(engine: str = "argocd", topology: str = "standalone", revision: str = "main") -> dict[str, dict[str, t.Any]]:
    """Engine objects of a small stack, built straight from the model (not through validate)."""
    stack, placement = placed(_small_text(engine, topology, revision))
    assert not placement.findings, placement.findings
    return _objects(compile_stack(stack, placement).files)


def _engine_variants() -> list[tuple[str, str]]:
    return [(engine, topology) for engine in ("argocd", "flux") for topology in ("standalone", "hub")]


def _waves(objects: dict[str, dict[str, t.Any]], cluster: str) -> dict[str, int]:
    return {
        p.rsplit("/", 1)[-1][:-5]: int(b["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for p, b in objects.items()
        if p.startswith(f"gitops/argocd/{cluster}/apps/") and b["kind"] == "Application"
    }


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("release/26.03", {"branch": "release/26.03"}),
        ("v1.2.0", {"tag": "v1.2.0"}),
        ("26.03", {"tag": "26.03"}),
        ("refs/tags/prod", {"name": "refs/tags/prod"}),
        ("0123456789abcdef0123456789abcdef01234567", {"commit": "0123456789abcdef0123456789abcdef01234567"}),
    ],
)
def test_flux_follows_branches_tags_and_commits(revision: str, ref: dict[str, str]) -> None:
    assert gitops.flux_ref(revision) == ref
    repository = _small("flux", revision=revision)["gitops/flux/rocm-a/gitrepository.yaml"]
    assert repository["spec"]["ref"] == ref


def test_hub_add_ons_live_beside_helm_controller_and_install_remotely() -> None:
    objects = _small("flux", "hub")
    addons = objects["gitops/flux/gke-b/kustomization-addons.yaml"]
    # The HelmRelease objects must reach the management cluster's helm-controller, not the target.
    assert "kubeConfig" not in addons["spec"]
    release = objects["gitops/flux/gke-b/addons/external-secrets.yaml"]
    assert release["spec"]["kubeConfig"] == {"secretRef": {"name": "gke-b-kubeconfig"}}
    # Helm's storage lives on the target cluster, where flux-system does not exist in the hub.
    assert release["spec"]["storageNamespace"] == release["spec"]["targetNamespace"] == "external-secrets"
    assert objects["gitops/flux/gke-b/kustomization-pipelines-gke-b.yaml"]["spec"]["kubeConfig"] == {"secretRef": {"name": "gke-b-kubeconfig"}}


@pytest.mark.parametrize(("engine", "topology"), _engine_variants())
def test_deleting_an_engine_object_never_cascades(engine: str, topology: str) -> None:
    for path, body in _small(engine, topology).items():
        if body["kind"] == "Application":
            assert "finalizers" not in body["metadata"], path
        if body["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1":
            assert body["spec"]["deletionPolicy"] == "Orphan" and body["spec"]["prune"] is True, path


def test_add_ons_follow_what_they_need_and_precede_own() -> None:
    argocd = _small("argocd")
    rocm = _waves(argocd, "rocm-a")
    # AMD's operator needs cert-manager, which nothing here brings (spark does not need it).
    assert "cert-manager" not in rocm and rocm["addon-amd-gpu-operator"] == 0 < rocm["own"]
    gke = _waves(argocd, "gke-b")
    assert gke["addon-external-secrets"] == 0 and gke["addon-gpu-operator"] == 0
    assert all(w < gke["own"] for name, w in gke.items() if name != "own")
    assert argocd["gitops/argocd/rocm-a/apps/appproject.yaml"]["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1"}
    flux = _small("flux")
    assert {"name": "gke-b-addons"} in flux["gitops/flux/gke-b/kustomization-own.yaml"]["spec"]["dependsOn"]
    assert "dependsOn" not in flux["gitops/flux/gke-b/kustomization-addons.yaml"]["spec"]


def test_amd_operator_installs_after_cert_manager() -> None:
    text = _small_text().replace("spark: {runsOn: [rocm-a]}", "trainer: {runsOn: [rocm-a]}")
    argocd = _objects(compile_stack(*placed(text)).files)
    wave = _waves(argocd, "rocm-a")
    assert wave["cert-manager"] < wave["addon-amd-gpu-operator"] < wave["trainer"] < wave["own"]
    flux = _objects(compile_stack(*placed(text.replace("engine: argocd", "engine: flux"))).files)
    assert flux["gitops/flux/rocm-a/kustomization-addons.yaml"]["spec"]["dependsOn"] == [{"name": "rocm-a-cert-manager"}]


def test_gpu_operator_values_follow_the_cloud() -> None:
    objects = _small("argocd")
    gke = objects["gitops/argocd/gke-b/apps/addon-gpu-operator.yaml"]["spec"]["source"]
    onprem = objects["gitops/argocd/dgx-c/apps/addon-gpu-operator.yaml"]["spec"]["source"]
    assert gke["chart"] == onprem["chart"] == "gpu-operator" and gke["targetRevision"] == gitops.GPU_OPERATORS["nvidia"].version
    # GKE installs the driver itself; on-prem nodes get it from the operator.
    assert gke["helm"]["valuesObject"]["driver"] == {"enabled": False}
    assert gke["helm"]["valuesObject"]["hostPaths"] == {"driverInstallDir": "/home/kubernetes/bin/nvidia"}
    assert onprem["helm"]["valuesObject"]["driver"] == {"enabled": True}
    amd = objects["gitops/argocd/rocm-a/apps/addon-amd-gpu-operator.yaml"]["spec"]["source"]
    assert (amd["repoURL"], amd["chart"]) == ("https://rocm.github.io/gpu-operator", "gpu-operator-charts")


@pytest.mark.parametrize(("engine", "topology"), _engine_variants())
def test_engine_objects_point_at_folders_the_build_writes(engine: str, topology: str) -> None:
    """Every repo path an engine object names is `spec.gitops.path` + a folder the build writes."""
    files = compile_stack(*placed(_small_text(engine, topology))).files
    objects = _objects(files)
    # Argo CD reads a folder through its kustomization.yaml or, lacking one, its plain YAML files.
    folders = {path.rsplit("/", 1)[0] for path in files if path.endswith(".yaml")}
    for path, body in objects.items():
        cluster = path.split("/")[2]
        if body["kind"] == "Application":
            source = body["spec"]["source"]
            if "chart" in source:
                continue
            assert source["repoURL"] == "https://git.example.com/ml/fleet.git" and source["targetRevision"] == "main"
            assert source["path"].startswith("deploy/ml/") and source["path"][len("deploy/ml/"):] in folders, path
        elif body["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1":
            assert body["spec"]["path"].startswith("./deploy/ml/") and body["spec"]["path"][len("./deploy/ml/"):] in folders, path
            mine = [b for p, b in objects.items() if p.startswith(f"gitops/flux/{cluster}/")]
            names = {b["metadata"]["name"] for b in mine if b["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"}
            assert {d["name"] for d in body["spec"].get("dependsOn", [])} <= names, path
            assert body["spec"]["sourceRef"]["name"] == objects[f"gitops/flux/{cluster}/gitrepository.yaml"]["metadata"]["name"]


@pytest.mark.parametrize(("engine", "topology"), _engine_variants())
def test_engine_objects_stay_within_their_cluster(engine: str, topology: str) -> None:
    objects = _small(engine, topology)
    servers = {"rocm-a": "https://10.0.0.1:6443", "gke-b": "https://34.1.2.3", "dgx-c": "https://10.0.0.2:6443"}
    for path, body in objects.items():
        if path.count("/") < 3:
            assert topology == "hub" and path == f"gitops/{engine}/kustomization.yaml", path  # the hub's entry point
            continue
        cluster = path.split("/")[2]
        expected = servers[cluster] if topology == "hub" else gitops.IN_CLUSTER
        if body["kind"] == "AppProject":
            assert body["spec"]["destinations"] == [{"server": expected, "namespace": "*"}]
            assert body["spec"]["sourceRepos"][0] == "https://git.example.com/ml/fleet.git"
            assert set(body["spec"]["sourceRepos"][1:]) <= {c.repository for c in (gitops.EXTERNAL_SECRETS, *gitops.GPU_OPERATORS.values())}
        elif body["kind"] == "Application" and not path.endswith("/root.yaml"):
            assert body["spec"]["project"] == cluster and body["spec"]["destination"]["server"] == expected, path
        elif body["kind"] in ("Kustomization", "HelmRelease") and "spec" in body and topology == "hub" \
                and path.split("/")[3] not in ("kustomization-addons.yaml", "root.yaml"):
            assert body["spec"]["kubeConfig"] == {"secretRef": {"name": f"{cluster}-kubeconfig"}}, path
        if "metadata" in body:
            assert body["metadata"]["name"].startswith(cluster), path
        # No engine object of one cluster names another cluster or its API server.
        text = yaml.safe_dump(body)
        for other, server in servers.items():
            if other != cluster:
                assert other not in text and server not in text, (path, other)


def test_engine_object_names_are_unique_in_a_hub() -> None:
    for engine in ("argocd", "flux"):
        seen: dict[tuple[str, str, str], str] = {}
        for path, body in _small(engine, "hub").items():
            if body["apiVersion"].startswith("kustomize.config.k8s.io"):
                continue
            key = (body["kind"], body["metadata"]["namespace"], body["metadata"]["name"])
            assert key not in seen, (path, seen.get(key))
            seen[key] = path


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_changing_one_cluster_changes_no_file_of_another(engine: str) -> None:
    """Reshaping one cluster (server, GPU, components) touches only its own folders."""
    base = _small_text(engine, "hub")
    before = compile_stack(*placed(base)).files
    changed = base.replace('"https://34.1.2.3", gpu: {vendor: nvidia, type: l4}', '"https://34.9.9.9"')
    after = compile_stack(*placed(changed.replace("pipelines: {runsOn: [gke-b]}", "katib: {runsOn: [gke-b]}"))).files
    for cluster in ("rocm-a", "dgx-c"):
        mine = (f"clusters/{cluster}/", f"gitops/{engine}/{cluster}/")
        assert {p: c for p, c in before.items() if p.startswith(mine)} == {p: c for p, c in after.items() if p.startswith(mine)}, cluster
    assert any(before.get(p) != c for p, c in after.items() if p.startswith(f"gitops/{engine}/gke-b/"))


@pytest.mark.parametrize(("first", "second"), [("engine: argocd", "engine: flux"), ("topology: standalone", "topology: hub")])
def test_switching_engine_or_topology_rebuilds_cleanly(first: str, second: str, tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    write.write(out, compiled(BUNDLED))
    after = _compile_text(BUNDLED.read_text().replace(first, second), tmp_path)
    changes = write.write(out, after)
    touched = set(changes.added) | set(changes.changed) | set(changes.removed)
    assert touched and all(p.startswith("gitops/") for p in touched), sorted(p for p in touched if not p.startswith("gitops/"))
    on_disk = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != write.LOCK_NAME}
    assert on_disk == after


@pytest.mark.parametrize("topology", ["standalone", "hub"])
def test_flux_root_keeps_the_cluster_folder_in_step(topology: str) -> None:
    objects = _small("flux", topology)
    root = objects["gitops/flux/gke-b/root.yaml"]
    assert root["metadata"]["name"] == "gke-b-root"
    assert root["spec"]["path"] == "./deploy/ml/gitops/flux/gke-b"
    assert root["spec"]["sourceRef"] == {"kind": "GitRepository", "name": objects["gitops/flux/gke-b/gitrepository.yaml"]["metadata"]["name"]}
    # Runs where Flux runs, never waits on its units, never cascades into them when deleted.
    assert "kubeConfig" not in root["spec"] and root["spec"]["wait"] is False and root["spec"]["deletionPolicy"] == "Orphan"
    listed = objects["gitops/flux/gke-b/kustomization.yaml"]["resources"]
    assert listed[:2] == ["gitrepository.yaml", "root.yaml"]  # self-managed, like flux-system
    assert not any(entry.startswith("addons") for entry in listed)  # applied by the addons Kustomization alone
    if topology == "hub":
        assert objects["gitops/flux/kustomization.yaml"]["resources"] == ["dgx-c", "gke-b", "rocm-a"]


_CRDS = UPSTREAM / "crds"


@pytest.mark.skipif(not _CRDS.is_dir(), reason=f"needs the pinned CRDs at {_CRDS} (../shared/upstream/crds, or $STACKGEN_UPSTREAM/crds); absent here")
@pytest.mark.parametrize(("engine", "topology"), _engine_variants())
def test_engine_objects_validate_strictly_against_the_real_crds(engine: str, topology: str) -> None:
    """Strict: a field the pinned CRD does not declare (a typo, a field of a newer release) fails."""
    schemas = load_crd_schemas([_CRDS], strict=True)
    kinds = set()
    for path, body in _small(engine, topology).items():
        if body["apiVersion"].startswith("kustomize.config.k8s.io"):
            continue  # the kustomize files that gather engine objects, not custom resources
        assert crds.validate_object(body, schemas) == [], path
        kinds.add((body["apiVersion"], body["kind"]))
    assert kinds == {
        "argocd": {("argoproj.io/v1alpha1", "Application"), ("argoproj.io/v1alpha1", "AppProject")},
        "flux": {
            ("source.toolkit.fluxcd.io/v1", "GitRepository"),
            ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
            ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        },
    }[engine]
