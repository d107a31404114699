"""The first-sync model: a varied fleet converges, and each rule catches its defect in a real render.

One module fixture renders the fleet of tests/cases/fleet (four clouds and edge, every store
kind, both GPU vendors, pvc:// and s3:// datasets, multi-worker and MPI jobs, a 40-character
cluster name) once, through the shared render cache; both engines and topologies compile the
same units, so the second engine costs no kustomize build. Each rule's failing case is that
real render with one defect put back (a credential synced last, the old gateway annotation, a
missing ALLOW policy...), its passing case the render as stackgen writes it.
"""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import firstsync, verify
from stackgen import kustomize as kz
from stackgen.codes import CODES
from stackgen.compile import gitops
from stackgen.compile.overlays import FileTree
from stackgen.render import ClusterRender
from tests.compiling import CASES, checked
from tests.upstream import UPSTREAM, compile_and_render, requires_upstream

pytestmark = requires_upstream

FLEET = CASES / "fleet" / "stack.yaml"
LONG = "aws-use1-production-training-cluster-001"
Resource = dict[str, t.Any]


@dataclasses.dataclass(frozen=True)
class Fleet:
    files: FileTree  # compiled, with gitops/
    renders: t.Mapping[str, ClusterRender]
    clouds: t.Mapping[str, str]
    repo_path: str

    def steps(self, cluster: str) -> tuple[firstsync.Step, ...]:
        return firstsync.steps_of(cluster, self.files, self.repo_path)

    def findings(self, cluster: str, render: ClusterRender | None = None, steps: t.Sequence[firstsync.Step] | None = None,
                 engine: t.Sequence[dict[str, t.Any]] | None = None) -> list[tuple[str, str, str]]:
        found = firstsync.check(render or self.renders[cluster], self.steps(cluster) if steps is None else steps, self.clouds[cluster],
                                firstsync.engine_objects_of(cluster, self.files) if engine is None else engine)
        return sorted({(p.code, p.resource, p.message) for p in found})


def _compile_and_render(text: str, root: Path, kustomize: kz.Kustomize) -> Fleet:
    (root / "stack.yaml").write_text(text)
    done = compile_and_render(root / "stack.yaml", root / "overlays", kustomize)
    return Fleet(done.files, done.renders, {c.name: c.cloud for c in done.stack.clusters}, done.stack.gitops.path)


@pytest.fixture(scope="module")
def argocd_hub(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Fleet:
    return _compile_and_render(FLEET.read_text(), tmp_path_factory.mktemp("argocd-hub"), kustomize)


@pytest.fixture(scope="module")
def flux_standalone(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Fleet:
    text = FLEET.read_text().replace("engine: argocd, topology: hub", "engine: flux, topology: standalone")
    assert "engine: flux" in text
    return _compile_and_render(text, tmp_path_factory.mktemp("flux-standalone"), kustomize)


# --- the fleet converges -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ["argocd_hub", "flux_standalone"])
def test_the_varied_fleet_has_no_first_sync_finding(engine: str, request: pytest.FixtureRequest) -> None:
    fleet: Fleet = request.getfixturevalue(engine)
    assert set(fleet.renders) == {LONG, "gcp-euw4", "azure-weu", "dc1", "shop-001", "shop-002"}
    for cluster in fleet.renders:
        assert fleet.findings(cluster) == [], cluster
    # Every piece of every cluster is delivered by some step: nothing escapes the model.
    for cluster, render in fleet.renders.items():
        delivered = {s.delivers for s in fleet.steps(cluster)}
        assert set(render.origins) <= delivered, cluster


def test_the_fleets_engine_objects_validate_against_the_pinned_crds(argocd_hub: Fleet, flux_standalone: Fleet) -> None:
    for fleet in (argocd_hub, flux_standalone):
        assert [p for p in verify.verify_engine_objects(fleet.files, UPSTREAM / "crds") if p.severity == "error"] == []


def test_argo_cd_ranks_are_waves_and_flux_ranks_follow_depends_on(argocd_hub: Fleet, flux_standalone: Fleet) -> None:
    argo = {s.delivers: s.rank for s in argocd_hub.steps("dc1")}
    flux = {s.delivers: s.rank for s in flux_standalone.steps("dc1")}
    for ranks in (argo, flux):
        assert ranks["units/kubeflow-namespace"] < ranks["units/istio"] < ranks["units/auth-dc1"]
        # ESO precedes every unit whose credentials it materialises (in Flux it shares the add-ons'
        # Kustomization with the AMD operator, which follows cert-manager).
        assert ranks["addon:external-secrets"] < ranks["units/auth-dc1"]
        assert ranks["units/auth-dc1"] < ranks["units/pipelines-dc1"] < ranks["clusters/dc1/own"]
    assert argo["units/auth-dc1"] == 30 and flux["units/auth-dc1"] == 2


# --- each rule: the real render fails with its defect put back, passes as written -----------


def _moved(render: ClusterRender, match: t.Callable[[Resource], bool], to: str) -> ClusterRender:
    """The render with the matching resources delivered by piece `to` instead."""
    origins = tuple(to if match(r) else o for r, o in zip(render.resources, render.origins))
    return dataclasses.replace(render, origins=origins)


def _without(render: ClusterRender, match: t.Callable[[Resource], bool]) -> ClusterRender:
    kept = [(r, o) for r, o in zip(render.resources, render.origins) if not match(r)]
    return dataclasses.replace(render, resources=tuple(r for r, _ in kept), origins=tuple(o for _, o in kept))


def _is(kind: str, namespace: str, name: str) -> t.Callable[[Resource], bool]:
    return lambda r: r.get("kind") == kind and r["metadata"].get("namespace", "") == namespace and r["metadata"]["name"] == name


def test_sg620_a_credential_synced_with_own_deadlocks_its_unit(flux_standalone: Fleet) -> None:
    """The defect of issue 14: Dex waits for auth/dex-passwords, which own/ delivered last."""
    render = flux_standalone.renders["azure-weu"]
    late = _moved(render, lambda r: r.get("kind") in ("ExternalSecret", "SecretStore") and r["metadata"]["namespace"] == "auth",
                  "clusters/azure-weu/own")
    found = flux_standalone.findings("azure-weu", late)
    assert ("SG620", "apps/v1/Deployment/auth/dex",
            "waits for Secret auth/dex-passwords, which clusters/azure-weu/own delivers (azure-weu-own, step 4) "
            "only after units/auth-azure-weu (azure-weu-auth-azure-weu, step 2) is healthy") in found
    assert flux_standalone.findings("azure-weu") == []


def test_sg620_a_reference_to_a_secret_nothing_makes(argocd_hub: Fleet) -> None:
    """oauth2-proxy's Deployment asks for `oauth2-proxy`: an ExternalSecret making the hashed name leaves it waiting forever."""
    render = argocd_hub.renders["dc1"]
    hashed = []
    for resource in render.resources:
        if resource.get("kind") == "ExternalSecret" and resource["metadata"]["name"] == "oauth2-proxy":
            resource = {**resource, "spec": {**resource["spec"], "target": {"name": "oauth2-proxy-h675gf55ht"}}}
        hashed.append(resource)
    found = argocd_hub.findings("dc1", dataclasses.replace(render, resources=tuple(hashed)))
    assert ("SG620", "apps/v1/Deployment/oauth2-proxy/oauth2-proxy",
            "waits for Secret oauth2-proxy/oauth2-proxy, which nothing in this cluster's sync delivers") in found


def test_sg620_optional_references_and_run_time_objects_pass(argocd_hub: Fleet) -> None:
    """`kube-root-ca.crt` (kube-controller-manager) and `istio-ca-root-cert` (istiod) are made at run time."""
    render = argocd_hub.renders["gcp-euw4"]
    pod: dict[str, t.Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "ml"}, "spec": {
        "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "maybe", "optional": True}}]}],
        "volumes": [{"name": "a", "configMap": {"name": "kube-root-ca.crt"}}, {"name": "b", "configMap": {"name": "istio-ca-root-cert"}},
                    {"name": "c", "secret": {"secretName": "absent", "optional": True}}]}}
    with_pod = dataclasses.replace(render, resources=render.resources + (pod,), origins=render.origins + ("clusters/gcp-euw4/own",))
    assert argocd_hub.findings("gcp-euw4", with_pod) == []
    pod["spec"]["volumes"].append({"name": "d", "secret": {"secretName": "absent"}})
    assert [f[0] for f in argocd_hub.findings("gcp-euw4", with_pod)] == ["SG620"]


def test_sg621_service_account_and_claims(flux_standalone: Fleet) -> None:
    render = flux_standalone.renders["dc1"]
    no_account = _without(render, _is("ServiceAccount", "ml", "stackgen-workload"))
    found = {(code, resource) for code, resource, _ in flux_standalone.findings("dc1", no_account)}
    assert ("SG621", "trainer.kubeflow.org/v1alpha1/TrainJob/ml/seg") in found
    assert ("SG621", "serving.kserve.io/v1beta1/InferenceService/ml/resnet50") in found
    # The claim of two workers' dataset, back to ReadWriteOnce (Multi-Attach), or on block storage.
    once, block = [], []
    for resource in render.resources:
        if resource.get("kind") == "PersistentVolumeClaim" and resource["metadata"]["name"] == "scans":
            assert resource["spec"]["accessModes"] == ["ReadWriteMany"]
            once.append({**resource, "spec": {**resource["spec"], "accessModes": ["ReadWriteOnce"]}})
            block.append({**resource, "spec": {**resource["spec"], "storageClassName": "local-path"}})
        else:
            once.append(resource)
            block.append(resource)
    messages = [m for code, _, m in flux_standalone.findings("dc1", dataclasses.replace(render, resources=tuple(once))) if code == "SG621"]
    assert messages == ["2 nodes mount PersistentVolumeClaim ml/scans, whose access modes ['ReadWriteOnce'] attach to one node"] * 2  # seg and ds
    assert [c for c, _, _ in flux_standalone.findings("dc1", dataclasses.replace(render, resources=tuple(block)))] == ["SG621"]


def test_sg621_a_namespace_from_a_later_step(argocd_hub: Fleet) -> None:
    render = argocd_hub.renders["shop-002"]
    late = _moved(render, _is("Namespace", "", "kubeflow"), "clusters/shop-002/own")
    found = argocd_hub.findings("shop-002", late)
    assert found and {code for code, _, _ in found} == {"SG621"}
    assert all("waits for Namespace kubeflow" in message for _, _, message in found)


def test_sg622_external_secrets_before_the_operator(flux_standalone: Fleet) -> None:
    steps = [dataclasses.replace(s, rank=99) if s.delivers == "addon:external-secrets" else s for s in flux_standalone.steps("dc1")]
    found = flux_standalone.findings("dc1", steps=steps)
    assert found and {code for code, _, _ in found} >= {"SG622"}
    assert ("SG622", "external-secrets.io/v1/ExternalSecret/auth/dex-passwords") in {(c, r) for c, r, _ in found}
    assert flux_standalone.findings("dc1") == []


def test_sg622_a_certificate_whose_issuer_comes_later(argocd_hub: Fleet) -> None:
    render = argocd_hub.renders["shop-001"]
    issuers = [r for r in render.resources if r.get("kind") == "Issuer"]
    assert issuers
    late = _moved(render, lambda r: r.get("kind") == "Issuer", "clusters/shop-001/own")
    assert "SG622" in {code for code, _, _ in argocd_hub.findings("shop-001", late)}


def test_sg623_custom_resources_before_their_crd(argocd_hub: Fleet) -> None:
    """Trainer's ClusterTrainingRuntimes wait for their CRD: from a later step, never; from their own, fine."""
    render = argocd_hub.renders["dc1"]
    crd = "clustertrainingruntimes.trainer.kubeflow.org"
    late = _moved(render, lambda r: r.get("kind") == "CustomResourceDefinition" and r["metadata"]["name"] == crd, "clusters/dc1/own")
    found = {(c, r) for c, r, _ in argocd_hub.findings("dc1", late)}
    assert ("SG623", "trainer.kubeflow.org/v1alpha1/ClusterTrainingRuntime/kubeflow-system/torch-distributed") in found
    assert argocd_hub.findings("dc1") == []


def test_sg624_a_failing_webhook_whose_backend_comes_later(flux_standalone: Fleet) -> None:
    """cert-manager's webhook admits every Certificate (failurePolicy Fail): its Deployment must come first."""
    render = flux_standalone.renders["gcp-euw4"]
    late = _moved(render, lambda r: r.get("kind") == "Deployment" and r["metadata"]["name"] == "cert-manager-webhook", "clusters/gcp-euw4/own")
    found = flux_standalone.findings("gcp-euw4", late)
    admitted = {resource for code, resource, _ in found if code == "SG624"}
    assert "cert-manager.io/v1/Certificate/kubeflow/serving-cert" in admitted


def test_sg625_the_old_eks_gateway_annotation(argocd_hub: Fleet) -> None:
    render = argocd_hub.renders[LONG]
    old = []
    for resource in render.resources:
        if resource.get("kind") == "Service" and resource["metadata"]["name"] == "istio-ingressgateway":
            assert resource["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
            annotations = {**resource["metadata"]["annotations"], "service.beta.kubernetes.io/aws-load-balancer-type": "external"}
            resource = {**resource, "metadata": {**resource["metadata"], "annotations": annotations}}
        old.append(resource)
    found = argocd_hub.findings(LONG, dataclasses.replace(render, resources=tuple(old)))
    assert [(c, r) for c, r, _ in found] == [("SG625", "v1/Service/istio-system/istio-ingressgateway")]
    assert "aws-load-balancer-controller, which nothing installs" in found[0][2]


def test_sg626_a_mesh_namespace_without_its_allow_policy(argocd_hub: Fleet) -> None:
    render = argocd_hub.renders["azure-weu"]
    found = argocd_hub.findings("azure-weu", _without(render, _is("AuthorizationPolicy", "ml", "stackgen-allow-workloads")))
    assert found == [("SG626", "v1/Namespace//ml", "joins the mesh under istio-system/global-deny-all, "
                      "but no ALLOW AuthorizationPolicy in ml lets its pods talk")]
    # Edge clusters run no mesh: nothing to allow.
    assert not [r for r in argocd_hub.renders["shop-001"].resources if r.get("kind") == "AuthorizationPolicy"]


def test_sg627_names_stay_within_63_characters(flux_standalone: Fleet, argocd_hub: Fleet) -> None:
    for fleet in (flux_standalone, argocd_hub):
        names = [(o["kind"], o["metadata"]["name"]) for o in firstsync.engine_objects_of(LONG, fleet.files)]
        assert max(len(name) for _, name in names) <= 63
        assert len(names) == len(set(names))
    engine = firstsync.engine_objects_of(LONG, flux_standalone.files)
    unhashed = [{**o, "metadata": {**o["metadata"], "name": f"{LONG}-auth-{LONG}"}} if "auth" in o["metadata"]["name"] else o for o in engine]
    found = flux_standalone.findings(LONG, engine=unhashed)
    assert {code for code, _, _ in found} == {"SG627"}


def test_engine_names_are_shortened_deterministically_with_a_hash() -> None:
    cluster = checked(FLEET).stack.clusters[0]
    assert cluster.name == LONG
    name = gitops.object_name(cluster, f"auth-{LONG}")
    assert len(name) <= 63 and name == gitops.object_name(cluster, f"auth-{LONG}")
    assert name.startswith(f"{LONG}-auth-") and name != gitops.object_name(cluster, f"katib-{LONG}")
    assert gitops.object_name(cluster, "own") == f"{LONG}-own"


def test_sg628_a_kind_the_model_does_not_know_is_reported(argocd_hub: Fleet) -> None:
    render = argocd_hub.renders["shop-002"]
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ml"}}
    found = argocd_hub.findings("shop-002", dataclasses.replace(render, resources=render.resources + (widget,),
                                                                origins=render.origins + ("clusters/shop-002/own",)))
    codes = {code for code, _, _ in found}
    assert "SG628" in codes and "SG623" in codes  # and its CRD is delivered by nothing
    unknown_piece = dataclasses.replace(render, resources=render.resources + (widget,), origins=render.origins + ("units/nowhere",))
    assert any("no engine object" in m for c, _, m in argocd_hub.findings("shop-002", unknown_piece) if c == "SG628")


def test_findings_are_problems_with_codes_and_render_like_verify(flux_standalone: Fleet) -> None:
    render = _without(flux_standalone.renders["gcp-euw4"], _is("AuthorizationPolicy", "ml", "stackgen-allow-workloads"))
    [problem] = firstsync.check(render, flux_standalone.steps("gcp-euw4"), "gcp", [])
    assert (problem.cluster, problem.code, problem.severity) == ("gcp-euw4", "SG626", "error")
    assert problem.render().startswith("clusters/gcp-euw4: error: v1/Namespace//ml: $.metadata.labels['istio-injection']:")
    # SG630-SG632: Profiles, tested on a real render in tests/test_tenants.py.
    assert {code for code, entry in CODES.items() if entry.emitted_by == ("firstsync",)} == {f"SG62{i}" for i in range(9)} | {"SG630", "SG631", "SG632"}


def test_engine_objects_stay_valid_yaml(flux_standalone: Fleet) -> None:
    for path, content in flux_standalone.files.items():
        if path.startswith("gitops/"):
            assert yaml.safe_load(content)



def test_render_exits_1_on_a_first_sync_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through the CLI: a compiler that forgets the ALLOW policy renders SG626 and exits 1."""
    from click.testing import CliRunner

    from stackgen.cli import cli
    from stackgen.compile import workloads
    from tests.compiling import BUNDLED

    real = workloads.own_objects
    monkeypatch.setattr(workloads, "own_objects", lambda stack, plan: {
        name: body for name, body in real(stack, plan).items() if not name.startswith("authorizationpolicy-")})
    stack = tmp_path / "stack.yaml"
    stack.write_text(BUNDLED.read_text())
    runner = CliRunner()
    built = runner.invoke(cli, ["build", "-f", str(stack)], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    done = runner.invoke(cli, ["render", "-f", str(stack), "--upstream", str(UPSTREAM), "--cluster", "gcp-euw4", "-o", str(tmp_path / "golden")],
                         catch_exceptions=False)
    assert done.exit_code == 1, done.output
    assert "v1/Namespace//ml: $.metadata.labels['istio-injection']: joins the mesh under istio-system/global-deny-all" in done.stderr
    assert "[SG626]" in done.stderr
