"""External databases and foundations a cluster already has (issue 18, points 3 and 5).

The three positive cases are compiled, rendered with the real kustomize against the pinned
upstream, verified and played through the first-sync model: no finding, no in-cluster MySQL,
every component pointed at the external server, no Istio or cert-manager installed where the
cluster provides them. Each rule's failing case is that real render with one defect put back.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import catalog, firstsync, mirror, place, verify
from stackgen import kustomize as kz
from stackgen.compile import external, gitops, kfp_profile_hook
from stackgen.render import ClusterRender
from tests.compiling import CASES, model_of
from tests.upstream import MIRRORS, UPSTREAM, compile_and_render, requires_both_releases, requires_upstream

Resource = dict[str, t.Any]
CASE_NAMES = ("external-aws-rds", "external-gcp-cloudsql", "onprem-provided-foundations")


@dataclasses.dataclass(frozen=True)
class Case:
    overlays: Path
    files: t.Mapping[str, bytes]
    render: ClusterRender
    cloud: str
    provides: tuple[str, ...]
    repo_path: str

    def problems(self, render: ClusterRender | None = None) -> list[verify.Problem]:
        render = render or self.render
        found = verify.verify(render, "1.33", UPSTREAM / "crds", verify.declared_vars(UPSTREAM), None, self.provides)
        found += firstsync.verify_cluster(render, self.files, self.repo_path, self.cloud, self.provides)
        return [p for p in found if p.severity == "error" or p.code == "SG601"]

    def named(self, kind: str, name: str) -> list[Resource]:
        return [r for r in self.render.resources if r.get("kind") == kind and r["metadata"].get("name") == name]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> dict[str, Case]:
    found = {}
    for name in CASE_NAMES:
        done = compile_and_render(CASES / "positive" / name / "stack.yaml", tmp_path_factory.mktemp(name) / "overlays", kustomize)
        cluster = done.stack.clusters[0]
        found[name] = Case(done.overlays, done.files, done.renders[cluster.name], cluster.cloud, cluster.provides, done.stack.gitops.path)
    return found


@requires_upstream
@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_case_renders_verifies_and_syncs_without_a_finding(cases: dict[str, Case], name: str) -> None:
    assert cases[name].problems() == []


@requires_upstream
@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_in_cluster_mysql_is_deployed(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    ran = {d.component for d in catalog.IN_CLUSTER_DATABASES if any(o.startswith(f"units/{d.component}") for o in case.render.origins)}
    assert ran
    for database in catalog.IN_CLUSTER_DATABASES:
        if database.component in ran:
            for _, _, kind, object_name in database.objects:
                assert case.named(kind, object_name) == [], (kind, object_name)


@requires_upstream
def test_components_point_at_the_external_server(cases: dict[str, Case]) -> None:
    case = cases["external-aws-rds"]
    host = "kubeflow.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
    config = case.named("ConfigMap", "pipeline-install-config")[0]["data"]
    assert (config["dbHost"], config["mysqlHost"], config["mysqlPort"]) == (host, host, "3306")
    manager = case.named("Deployment", "katib-db-manager")[0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in manager["env"]}
    assert env["DB_HOST"]["value"] == host and env["DB_USER"]["valueFrom"]["secretKeyRef"] == {"name": "katib-mysql-secrets", "key": "DB_USER"}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "katib-mysql-secrets"
    registry = case.named("ConfigMap", "model-registry-db-parameters")[0]["data"]
    assert (registry["MYSQL_HOST"], registry["MYSQL_DATABASE"]) == (host, "model_registry")
    secret = case.named("ExternalSecret", "katib-mysql-secrets")[0]["spec"]
    assert [(d["secretKey"], d["remoteRef"]["property"]) for d in secret["data"]] == [("DB_USER", "username"), ("MYSQL_ROOT_PASSWORD", "password")]


@requires_upstream
@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_seaweedfs_is_deployed_and_nothing_names_it(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    for _, _, kind, object_name in catalog.SEAWEEDFS_OBJECTS:
        assert case.named(kind, object_name) == [], (kind, object_name)
    assert not [r for r in case.render.resources if "seaweedfs.kubeflow" in json.dumps(r)]
    controller = case.named("Deployment", "kubeflow-pipelines-profile-controller")[0]["spec"]["template"]["spec"]
    assert controller["volumes"] == [{"name": "hooks", "configMap": {"name": "stackgen-kfp-profile-hook"}}]
    assert case.named("ConfigMap", "stackgen-kfp-profile-hook")[0]["data"]["sync.py"] == external.HOOK_SOURCE


@requires_upstream
def test_pipelines_point_at_the_bucket(cases: dict[str, Case]) -> None:
    case = cases["external-gcp-cloudsql"]
    api = {e["name"]: e.get("value") for e in case.named("Deployment", "ml-pipeline")[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (api["OBJECTSTORECONFIG_HOST"], api["OBJECTSTORECONFIG_PORT"], api["OBJECTSTORECONFIG_SECURE"]) == ("storage.googleapis.com", "443", "true")
    assert case.named("ConfigMap", "pipeline-install-config")[0]["data"]["bucketName"] == "acme-kfp-euw4"
    launcher = case.named("ConfigMap", "kfp-launcher")[0]["data"]
    assert launcher["defaultPipelineRoot"] == "s3://acme-kfp-euw4/v2/artifacts"
    assert yaml.safe_load(launcher["providers"])["s3"]["default"]["endpoint"] == "storage.googleapis.com"
    keys = case.named("ExternalSecret", "mlpipeline-minio-artifact")[0]["spec"]["data"]
    assert [(d["secretKey"], d["remoteRef"]["property"]) for d in keys] == [("accesskey", "AWS_ACCESS_KEY_ID"), ("secretkey", "AWS_SECRET_ACCESS_KEY")]


def test_the_sync_hook_gives_each_pipelines_namespace_the_store() -> None:
    store = kfp_profile_hook.settings({"STACKGEN_OBJECT_STORE_BUCKET": "b", "STACKGEN_OBJECT_STORE_HOST": "minio.lab", "STACKGEN_OBJECT_STORE_PORT": "9000",
                                       "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"})
    parent = {"metadata": {"name": "team-a", "labels": {"pipelines.kubeflow.org/enabled": "true"}}}
    answer = kfp_profile_hook.sync(parent, {"Secret.v1": {}, "ConfigMap.v1": {}}, store)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in answer["attachments"]}
    assert answer["status"] == {"kubeflow-pipelines-ready": "False"}
    launcher = objects[("ConfigMap", "kfp-launcher")]["data"]
    assert launcher["defaultPipelineRoot"] == "s3://b/private-artifacts/team-a/v2/artifacts"
    assert json.loads(launcher["providers"])["s3"]["default"]["endpoint"] == "minio.lab:9000"
    repository = json.loads(objects[("ConfigMap", "artifact-repositories")]["data"]["default-namespaced"])["s3"]
    assert (repository["endpoint"], repository["bucket"], repository["keyFormat"].split("/")[:2]) == ("minio.lab:9000", "b", ["private-artifacts", "team-a"])
    assert objects[("Secret", "mlpipeline-minio-artifact")]["data"] == {"accesskey": "aWQ=", "secretkey": "a2V5"}
    assert kfp_profile_hook.sync({"metadata": {"name": "x"}}, {}, store) == {"status": {}, "attachments": []}


@requires_upstream
def test_provided_foundations_are_not_installed(cases: dict[str, Case]) -> None:
    case = cases["onprem-provided-foundations"]
    kinds = {(r["kind"], r["metadata"]["name"]) for r in case.render.resources}
    assert ("Deployment", "istiod") not in kinds and ("Deployment", "cert-manager") not in kinds
    assert not [r for r in case.render.resources if r["kind"] == "CustomResourceDefinition"
                and r["spec"]["group"] in ("networking.istio.io", "cert-manager.io", "external-secrets.io")]
    # ... while what depends on them renders, and validates against the mirror's CRDs.
    assert ("Gateway", "kubeflow-gateway") in kinds and ("ClusterIssuer", "kubeflow-self-signing-issuer") in kinds
    assert not [path for path in case.files if path.startswith("gitops/") and "external-secrets" in path]


@requires_upstream
def test_sg623_a_provided_foundation_not_declared_leaves_its_objects_without_crds(cases: dict[str, Case]) -> None:
    case = dataclasses.replace(cases["onprem-provided-foundations"], provides=())
    codes = {p.code for p in case.problems()}
    assert {"SG623", "SG622", "SG601"} <= codes


@requires_upstream
def test_sg650_a_host_still_naming_the_deleted_mysql(cases: dict[str, Case]) -> None:
    case = cases["external-aws-rds"]
    render = case.render

    def restored(resource: Resource) -> Resource:
        if resource["kind"] == "ConfigMap" and resource["metadata"]["name"] == "pipeline-install-config":
            return {**resource, "data": {**resource["data"], "mysqlHost": "mysql"}}
        if resource["kind"] == "Deployment" and resource["metadata"]["name"] == "katib-db-manager":
            spec = resource["spec"]["template"]["spec"]
            container = {**spec["containers"][0], "env": [e for e in spec["containers"][0]["env"] if e["name"] != "DB_HOST"]}
            return {**resource, "spec": {**resource["spec"], "template": {**resource["spec"]["template"],
                                                                           "spec": {**spec, "containers": [container]}}}}
        return resource

    broken = dataclasses.replace(render, resources=tuple(restored(r) for r in render.resources), key="")
    found = sorted((p.resource, p.path) for p in case.problems(broken) if p.code == "SG650")
    assert found == [("apps/v1/Deployment/kubeflow/katib-db-manager", "$.spec.template.spec.containers[0].env"),
                     ("v1/ConfigMap/kubeflow/pipeline-install-config", "$.data.mysqlHost")]


@requires_upstream
@pytest.mark.parametrize("name", ["external-aws-rds", "onprem-provided-foundations"])
def test_the_assembled_render_equals_a_plain_build(cases: dict[str, Case], name: str, kustomize: kz.Kustomize,
                                                   tmp_path: Path) -> None:
    """Deleting in a per-cluster unit deletes from the assembled render too, exactly as a plain
    `kustomize build` of the cluster overlay does (no object of the shared unit survives it)."""
    case = cases[name]
    workspace = mirror.materialize(mirror.open_mirror(UPSTREAM), case.overlays, tmp_path / "work")
    plain = [d for d in yaml.safe_load_all(kz.build(kustomize, workspace.overlays / case.render.overlay)) if d]
    assert sorted(json.dumps(r, sort_keys=True) for r in case.render.resources) == sorted(json.dumps(r, sort_keys=True) for r in plain)


@requires_both_releases
def test_the_previous_release_renders_the_same_features_cleanly(tmp_path: Path, kustomize: kz.Kustomize) -> None:
    """At v1.11.0 too: no MySQL, no SeaweedFS (nor its `minio-service` alias), no Istio or
    cert-manager installed, and no finding against that release's CRDs."""
    text = (CASES / "positive" / "onprem-provided-foundations" / "stack.yaml").read_text()
    (tmp_path / "stack.yaml").write_text(text.replace("  gitops:", "  upstream: {kubeflow: v1.11.0}\n  gitops:", 1))
    mirror_root = MIRRORS["v1.11.0"]
    done = compile_and_render(tmp_path / "stack.yaml", tmp_path / "overlays", kustomize, mirror_root)
    assert done.checked.diagnostics == ()
    cluster = done.stack.clusters[0]
    rendered, provides = done.renders[cluster.name], cluster.provides
    found = verify.verify(rendered, "1.33", mirror_root / "crds", verify.declared_vars(mirror_root), None, provides)
    found += firstsync.verify_cluster(rendered, done.files, done.stack.gitops.path, "onprem", provides)
    assert [p for p in found if p.severity == "error" or p.code == "SG601"] == []
    names = {(r["kind"], r["metadata"]["name"]) for r in rendered.resources}
    assert not names & {("Deployment", "mysql"), ("Deployment", "seaweedfs"), ("Service", "minio-service"), ("Deployment", "istiod"),
                        ("Deployment", "cert-manager"), ("Deployment", "model-registry-db")}


def test_provided_add_ons_are_not_installed() -> None:
    text = _STACK.replace("CLUSTER", "gpu: {vendor: nvidia, type: a100}, provides: [gpu-operator, external-secrets], oidcIssuer: "
                          "https://oidc.eks.us-east-1.amazonaws.com/id/ABC").replace("COMPONENTS", "{katib: {runsOn: [a]}}")
    stack = model_of(text)
    placement = place.place(stack)
    assert placement.plans[0].credentials  # katib's MySQL password still comes through ESO ...
    assert gitops.add_ons(stack, placement.plans[0]) == ()  # ... which, like the GPU operator, the cluster runs itself
    without = model_of(text.replace("provides: [gpu-operator, external-secrets], ", ""))
    assert [c.name for c in gitops.add_ons(without, place.place(without).plans[0])] == ["external-secrets", "gpu-operator"]


# --- placement, on the typed model -----------------------------------------------------------

_STACK = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  gitops: {engine: flux, repoURL: "https://git.example.com/ml.git"}
  clusters:
    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.33", roles: [serving], CLUSTER}
  components: COMPONENTS
  secrets:
    - {name: kubeflow-db, namespace: kubeflow, store: aws-secrets-manager, key: kubeflow/db}
"""


def _findings(cluster: str, components: str = "{}") -> list[tuple[str, str]]:
    stack = model_of(_STACK.replace("CLUSTER", cluster).replace("COMPONENTS", components))
    return [(f.code, f.severity) for f in place.place(stack).findings]


def test_sg281_a_database_nothing_uses_warns() -> None:
    assert _findings("database: {host: db.internal, credentials: kubeflow-db}") == [("SG281", "warning")]


def test_sg282_a_foundation_nothing_uses_warns() -> None:
    assert _findings("provides: [gpu-operator]") == [("SG282", "warning"), ("SG208", "warning")]  # SG208: kubeflow-db unused


def test_sg285_an_object_store_without_an_s3_api() -> None:
    text = _STACK.replace("cloud: aws, region: us-east-1", "cloud: azure, region: westeurope").replace(
        "CLUSTER", "objectStore: {bucket: kfp, credentials: kubeflow-db}").replace("COMPONENTS", "{pipelines: {runsOn: [a]}}")
    stack = model_of(text)
    assert "SG285" in {f.code for f in place.place(stack).findings}
    blob = text.replace("credentials: kubeflow-db}", "credentials: kubeflow-db, endpoint: \"https://acme.blob.core.windows.net\"}")
    assert "SG285" in {f.code for f in place.place(model_of(blob)).findings}
    assert _findings("provides: [cert-manager]", "{katib: {runsOn: [a]}}").count(("SG282", "warning")) == 0


def test_a_database_login_is_not_reported_as_landing_nowhere() -> None:
    codes = _findings("database: {host: db.internal, credentials: kubeflow-db}, oidcIssuer: "
                      "https://oidc.eks.us-east-1.amazonaws.com/id/ABC", "{katib: {runsOn: [a]}}")
    assert codes == []


def test_the_external_login_fills_each_components_secret_under_its_keys() -> None:
    stack = model_of(_STACK.replace("CLUSTER", "database: {host: db.internal, credentials: kubeflow-db}, oidcIssuer: "
                                    "https://oidc.eks.us-east-1.amazonaws.com/id/ABC").replace("COMPONENTS", "{katib: {runsOn: [a]}}"))
    credentials = {(s.namespace, s.name): s for s in place.place(stack).plans[0].credentials}
    katib = credentials[("kubeflow", "katib-mysql-secrets")]
    assert (katib.key, katib.properties) == ("kubeflow/db", (("DB_USER", "username"), ("MYSQL_ROOT_PASSWORD", "password")))


def test_database_and_provides_reach_the_model(tmp_path: Path) -> None:
    stack = model_of(_STACK.replace("CLUSTER", "database: {host: db.internal, port: 3307, credentials: kubeflow-db}, provides: [istio]")
                     .replace("COMPONENTS", "{}"))
    cluster = stack.clusters[0]
    assert cluster.database is not None and cluster.database.port == 3307 and cluster.provides == ("istio",)
