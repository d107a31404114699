"""Tenants (spec.tenants): Kubeflow Profiles with their namespace's cloud identity.

Fast tests read the compiled tree of tests/cases/positive/tenants (AWS, GCP and Azure clusters);
the upstream tests render that case against the real kubeflow/manifests mirror, verify the
Profiles against the real Profile CRD from the render, play the first sync with both engines
(no finding), and put back each defect the first-sync model must catch (SG630 to SG632).
"""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import firstsync, storage, verify
from stackgen import kustomize as kz
from stackgen.compile import workloads
from stackgen.compile.overlays import FileTree
from stackgen.model import Identity
from stackgen.place import place
from stackgen.render import ClusterRender
from tests.compiling import CASES, compiled, model_of
from tests.upstream import MIRRORS, UPSTREAM, compile_and_render, requires_both_releases, requires_upstream

CASE = CASES / "positive" / "tenants" / "stack.yaml"
Resource = dict[str, t.Any]


def _load(files: FileTree, path: str) -> Resource:
    body: Resource = yaml.safe_load(files[path])
    return body


@pytest.fixture(scope="module")
def tree() -> FileTree:
    return compiled(CASE)


def test_each_cloud_gets_its_profile_plugin(tree: FileTree) -> None:
    aws = _load(tree, "units/profiles-aws-use1/profile-team-vision.yaml")
    gcp = _load(tree, "units/profiles-gcp-euw4/profile-team-vision.yaml")
    azure = _load(tree, "units/profiles-azure-weu/profile-team-vision.yaml")
    assert aws["apiVersion"] == "kubeflow.org/v1" and aws["spec"]["owner"] == {"kind": "User", "name": "alice@acme.com"}
    assert aws["spec"]["plugins"] == [{"kind": "AwsIamForServiceAccount",
                                       "spec": {"awsIamRole": "arn:aws:iam::123456789012:role/team-vision", "annotateOnly": True}}]
    assert gcp["spec"]["plugins"] == [{"kind": "WorkloadIdentity", "spec": {"gcpServiceAccount": "team-vision@acme-ml.iam.gserviceaccount.com"}}]
    assert "plugins" not in azure["spec"]  # no Azure plugin: default-editor is annotated by stackgen
    editor = _load(tree, "clusters/azure-weu/own/defaulteditor-team-vision.yaml")
    assert editor["metadata"]["name"] == "default-editor"
    assert editor["metadata"]["annotations"] == {"azure.workload.identity/client-id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}
    assert aws["spec"]["resourceQuotaSpec"] == {"hard": {"requests.cpu": "64", "requests.memory": "256Gi", "requests.nvidia.com/gpu": "8"}}


def test_a_tenant_without_its_own_identity_takes_the_clusters(tree: FileTree) -> None:
    nlp = _load(tree, "clusters/azure-weu/own/defaulteditor-team-nlp.yaml")
    assert nlp["metadata"]["annotations"]["azure.workload.identity/client-id"] == "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    assert "units/profiles-aws-use1/profile-team-nlp.yaml" not in tree  # clusters: [notebooks]


def test_contributors_are_what_kfam_writes(tree: FileTree) -> None:
    binding = _load(tree, "clusters/gcp-euw4/own/contributor-team-vision-user-carol-ng-acme-com-clusterrole-view.yaml")
    assert binding["metadata"]["name"] == "user-carol-ng-acme-com-clusterrole-view"
    assert binding["metadata"]["annotations"] == {"role": "view", "user": "carol.ng@acme.com"}
    assert binding["roleRef"]["name"] == "kubeflow-view"
    policy = _load(tree, "clusters/gcp-euw4/own/contributor-policy-team-vision-user-carol-ng-acme-com-clusterrole-view.yaml")
    assert policy["spec"]["rules"][0]["when"] == [{"key": "request.headers[kubeflow-userid]", "values": ["carol.ng@acme.com"]}]
    assert workloads.binding_name("Bob.O'Neil+ml@acme.com", "edit") == "user-bob-o-neil-ml-acme-com-clusterrole-edit"


def test_workloads_in_a_tenant_namespace_run_as_its_default_editor_and_create_no_namespace(tree: FileTree) -> None:
    job = _load(tree, "clusters/aws-use1/own/trainjob-segment.yaml")
    assert job["metadata"]["namespace"] == "team-vision"
    assert job["spec"]["podTemplateOverrides"][0]["spec"]["serviceAccountName"] == "default-editor"
    model = _load(tree, "clusters/gcp-euw4/own/inferenceservice-segment.yaml")
    assert model["spec"]["predictor"]["serviceAccountName"] == "default-editor"
    assert not [p for p in tree if "namespace-team-" in p or p.endswith("serviceaccount-team-vision.yaml")]


def test_upstreams_example_profile_only_when_asked(tree: FileTree) -> None:
    assert "user-namespace" not in tree["units/profiles/kustomization.yaml"].decode()
    text = CASE.read_text().replace("profiles: {runsOn: [serving]}", "profiles: {runsOn: [serving], exampleProfile: true}")
    stack = model_of(text)
    assert stack.example_profile
    from stackgen.compile.overlays import compile_stack
    files = compile_stack(stack, place(stack)).files
    assert "common/user-namespace/base?ref=26.03" in files["units/profiles/kustomization.yaml"].decode()


def test_storage_is_judged_with_the_tenants_identity() -> None:
    stack = model_of(CASE.read_text())
    gcp = stack.cluster("gcp-euw4")
    assert storage.gap("gs://b/m", gcp, Identity(), "team-x") is not None
    assert storage.gap("gs://b/m", gcp, Identity(gcp_service_account="x@y.iam.gserviceaccount.com"), "team-x") is None
    text = CASE.read_text().replace("        gcpServiceAccount: team-vision@acme-ml.iam.gserviceaccount.com\n", "")
    text = text.replace("identity: {gcpServiceAccount: ml-serving@acme-ml.iam.gserviceaccount.com}", "")
    findings = place(model_of(text)).findings
    assert [(f.code, f.path) for f in findings] == [("SG410", ("spec", "models", 0, "storageUri"))]
    assert "tenant `team-vision`" in (findings[0].hint or "")


# --- against the real upstream -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rendered:
    files: FileTree
    renders: t.Mapping[str, ClusterRender]
    clouds: t.Mapping[str, str]
    repo_path: str

    def findings(self, cluster: str, render: ClusterRender | None = None,
                 steps: t.Sequence[firstsync.Step] | None = None) -> list[tuple[str, str]]:
        found = firstsync.check(render or self.renders[cluster],
                                firstsync.steps_of(cluster, self.files, self.repo_path) if steps is None else steps,
                                self.clouds[cluster], firstsync.engine_objects_of(cluster, self.files))
        return sorted({(p.code, p.resource) for p in found})


def _render(text: str, root: Path, kustomize: kz.Kustomize, mirror: Path = UPSTREAM) -> Rendered:
    (root / "stack.yaml").write_text(text)
    done = compile_and_render(root / "stack.yaml", root / "overlays", kustomize, mirror)
    return Rendered(done.files, done.renders, {c.name: c.cloud for c in done.stack.clusters}, done.stack.gitops.path)


@pytest.fixture(scope="module")
def argocd(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Rendered:
    return _render(CASE.read_text(), tmp_path_factory.mktemp("tenants-argocd"), kustomize)


@pytest.fixture(scope="module")
def flux(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Rendered:
    text = CASE.read_text().replace("engine: argocd", "engine: flux")
    return _render(text, tmp_path_factory.mktemp("tenants-flux"), kustomize)


def _profiles(render: ClusterRender) -> list[Resource]:
    return [r for r in render.resources if r.get("kind") == "Profile"]


@requires_upstream
def test_profiles_verify_against_the_real_crd_and_the_first_sync_converges(argocd: Rendered, flux: Rendered) -> None:
    versions = {"aws-use1": "1.31", "gcp-euw4": "1.32", "azure-weu": "1.31"}
    declared = verify.declared_vars(UPSTREAM)
    for rendered in (argocd, flux):
        for cluster, render in rendered.renders.items():
            assert [r["metadata"]["name"] for r in _profiles(render)] == (["team-nlp", "team-vision"] if cluster == "azure-weu" else ["team-vision"])
            assert not [r for r in render.resources if r.get("kind") == "Profile" and r["metadata"]["name"] == "kubeflow-user-example-com"]
            assert any(r.get("kind") == "CustomResourceDefinition" and r["metadata"]["name"] == "profiles.kubeflow.org" for r in render.resources)
            assert verify.verify(render, versions[cluster], UPSTREAM / "crds", declared) == []
            assert rendered.findings(cluster) == []


@requires_upstream
def test_verify_holds_profiles_to_the_real_crd(argocd: Rendered) -> None:
    render = argocd.renders["aws-use1"]
    broken = [dict(r, spec={**r["spec"], "owner": {"name": "alice@acme.com"}}) if r.get("kind") == "Profile" else r for r in render.resources]
    problems = verify.verify(dataclasses.replace(render, resources=tuple(broken), key=""), "1.31", UPSTREAM / "crds", frozenset())
    assert [(p.code, p.resource) for p in problems if p.code == "SG602"] == [("SG602", "kubeflow.org/v1/Profile//team-vision")]


@requires_upstream
def test_first_sync_catches_what_would_deadlock_a_profile(argocd: Rendered) -> None:
    render = argocd.renders["aws-use1"]
    steps = firstsync.steps_of("aws-use1", argocd.files, argocd.repo_path)
    own = next(s for s in steps if s.delivers.endswith("/own"))
    # SG631: the Profile moved into the cluster's own folder, beside what lands in its namespace.
    moved = ClusterRender(render.cluster, render.overlay, render.resources,
                          tuple(own.delivers if r.get("kind") == "Profile" else o for r, o in zip(render.resources, render.origins)))
    assert ("SG631", "rbac.authorization.k8s.io/v1/RoleBinding/team-vision/user-bob-acme-com-clusterrole-edit") in argocd.findings("aws-use1", moved)
    # SG630: no profile controller in the sync.
    without = [(r, o) for r, o in zip(render.resources, render.origins)
               if not (r.get("kind") == "Deployment" and r["metadata"]["name"] == "profiles-deployment")]
    bare = ClusterRender(render.cluster, render.overlay, tuple(r for r, _ in without), tuple(o for _, o in without))
    assert ("SG630", "kubeflow.org/v1/Profile//team-vision") in argocd.findings("aws-use1", bare)
    # SG630 too: no Istio AuthorizationPolicy CRD, which the profile controller watches and writes.
    kept = [(r, o) for r, o in zip(render.resources, render.origins)
            if not (r.get("kind") == "CustomResourceDefinition" and r["metadata"]["name"] == "authorizationpolicies.security.istio.io")]
    meshless = ClusterRender(render.cluster, render.overlay, tuple(r for r, _ in kept), tuple(o for _, o in kept))
    assert ("SG630", "kubeflow.org/v1/Profile//team-vision") in argocd.findings("aws-use1", meshless)
    # SG632: a Namespace of the Profile's name, which the controller would refuse to adopt.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-vision"}}
    extra = ClusterRender(render.cluster, render.overlay, render.resources + (namespace,), render.origins + (own.delivers,))
    assert ("SG632", "v1/Namespace//team-vision") in argocd.findings("aws-use1", extra)


def test_a_compute_quota_brings_default_requests_where_workloads_run(tree: FileTree) -> None:
    """Trainer's node pods name no CPU or memory: under a requests.cpu quota they would be refused."""
    limits = _load(tree, "clusters/aws-use1/own/limitrange-team-vision.yaml")["spec"]["limits"]
    assert limits == [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}]
    assert "clusters/azure-weu/own/limitrange-team-vision.yaml" not in tree  # no workload there


def test_a_secret_in_a_tenant_namespace_gets_its_store_account_but_no_namespace() -> None:
    text = CASE.read_text().replace(
        "  tenants:\n",
        "    - {name: hf-token, namespace: team-vision, store: gcp-secret-manager, key: projects/acme-ml/secrets/hf-token}\n  tenants:\n", 1)
    stack = model_of(text)
    from stackgen.compile.overlays import compile_stack
    files = compile_stack(stack, place(stack)).files
    own = sorted(p.rsplit("/", 1)[1] for p in files if p.startswith("clusters/gcp-euw4/own/"))
    assert "serviceaccount-team-vision.yaml" in own and not [p for p in own if p.startswith("namespace-")]
    assert any(p.startswith("externalsecret-team-vision") for p in own), own
    account = _load(files, "clusters/gcp-euw4/own/serviceaccount-team-vision.yaml")
    assert account["metadata"]["name"] == "stackgen-workload"  # the platform's identity reads the store, as elsewhere


def test_aks_notebooks_can_take_the_workload_identity_label_from_a_pod_default(tree: FileTree) -> None:
    default = _load(tree, "clusters/azure-weu/own/poddefault-team-vision-azure-workload-identity.yaml")
    assert default["spec"]["labels"] == {"azure.workload.identity/use": "true"}
    assert default["spec"]["selector"] == {"matchLabels": {"azure-workload-identity": "true"}}
    assert not [p for p in tree if "poddefault-" in p and not p.startswith("clusters/azure-weu/")]


@requires_both_releases
def test_tenants_at_the_previous_release_verify_and_converge(tmp_path: Path, kustomize: kz.Kustomize) -> None:
    """v1.11.0 serves the same Profile CRD (v1 stored) and names the controller the same."""
    text = CASE.read_text().replace("spec:\n", "spec:\n  upstream: {kubeflow: v1.11.0}\n", 1)
    rendered = _render(text, tmp_path, kustomize, MIRRORS["v1.11.0"])
    declared = verify.declared_vars(MIRRORS["v1.11.0"])
    for cluster, render in rendered.renders.items():
        assert _profiles(render)
        assert verify.verify(render, "1.31", MIRRORS["v1.11.0"] / "crds", declared) == []
        assert rendered.findings(cluster) == []
