"""GitOps delivery: every engine object validates against the real CRDs; clusters stay isolated."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import crds, write
from stackgen.load import load_bytes
from stackgen.validate import validate
from tests.compiling import BUNDLED, CASES, checked, compiled
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
    assert wave["kubeflow-namespace"] < wave["istio-aws"] < wave["auth-aws-use1"] < wave["pipelines"] < wave["own"]
    assert wave["cert-manager"] < wave["trainer"]
    assert all(w < wave["own"] for name, w in wave.items() if name != "own")
    trainer = apps["trainer"]
    assert "ServerSideApply=true" in trainer["spec"]["syncPolicy"]["syncOptions"]
    assert "finalizers" not in trainer["metadata"]
    assert trainer["spec"]["source"] == {"repoURL": "https://github.com/acme/ml-platform.git", "targetRevision": "main", "path": "overlays/units/trainer"}


def test_flux_depends_on_mirrors_the_graph_and_hub_uses_kubeconfigs(tmp_path: Path) -> None:
    files = _compile_text(BUNDLED.read_text().replace("engine: argocd", "engine: flux").replace("topology: standalone", "topology: hub"), tmp_path)
    pipelines = yaml.safe_load(files["gitops/flux/aws-use1/kustomization-pipelines.yaml"])
    assert sorted(d["name"] for d in pipelines["spec"]["dependsOn"]) == [
        "aws-use1-auth-aws-use1", "aws-use1-cert-manager", "aws-use1-istio-aws", "aws-use1-profiles"]
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
    assert (diagnostic.code, diagnostic.line) == ("SG210", 43) and "edge-store17" in diagnostic.message


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
    after = _compile_text(text[:start] + text[end:], tmp_path)
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
