"""Sign-on and gateway TLS against the real upstream: the two golden cases
(tests/cases/positive/sign-on-github-oidc, gateway-tls) compile, render with real kustomize
against the pinned 26.03 mirror, verify against the Kubernetes schemas and the real CRDs
(cert-manager's from its render, External Secrets' from the mirror), and their first sync
converges under both engines. Each defect the design avoids is put back once, and caught.
"""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import firstsync, verify
from stackgen import kustomize as kz
from stackgen.compile import signon, tls
from stackgen.compile.overlays import FileTree
from stackgen.render import ClusterRender
from tests.compiling import CASES
from tests.upstream import UPSTREAM, compile_and_render, requires_upstream

pytestmark = requires_upstream

Resource = dict[str, t.Any]
SIGN_ON = CASES / "positive" / "sign-on-github-oidc" / "stack.yaml"
GATEWAY_TLS = CASES / "positive" / "gateway-tls" / "stack.yaml"
EXTERNAL = CASES / "positive" / "sign-on-external-issuer" / "stack.yaml"


@dataclasses.dataclass(frozen=True)
class Built:
    files: FileTree
    renders: t.Mapping[str, ClusterRender]
    versions: t.Mapping[str, str]
    clouds: t.Mapping[str, str]
    repo_path: str

    def problems(self, cluster: str, render: ClusterRender | None = None) -> list[str]:
        """Every verify and first-sync error and warning, rendered."""
        rendered = render or self.renders[cluster]
        found = verify.verify(rendered, self.versions[cluster], UPSTREAM / "crds", verify.declared_vars(UPSTREAM))
        found += firstsync.verify_cluster(rendered, self.files, self.repo_path, self.clouds[cluster])
        return [p.render() for p in found]


def _build(text: str, root: Path, kustomize: kz.Kustomize) -> Built:
    (root / "stack.yaml").write_text(text)
    done = compile_and_render(root / "stack.yaml", root / "overlays", kustomize)
    stack = done.stack
    return Built(done.files, done.renders, {c.name: c.kubernetes_version for c in stack.clusters},
                 {c.name: c.cloud for c in stack.clusters}, stack.gitops.path)


@pytest.fixture(scope="module")
def sign_on(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Built:
    return _build(SIGN_ON.read_text(), tmp_path_factory.mktemp("sign-on"), kustomize)


@pytest.fixture(scope="module")
def gateway_tls(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Built:
    return _build(GATEWAY_TLS.read_text(), tmp_path_factory.mktemp("gateway-tls"), kustomize)


@pytest.fixture(scope="module")
def gateway_tls_argocd(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Built:
    text = GATEWAY_TLS.read_text().replace("engine: flux", "engine: argocd")
    assert "engine: argocd" in text
    return _build(text, tmp_path_factory.mktemp("gateway-tls-argocd"), kustomize)


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> Built:
    return _build(EXTERNAL.read_text(), tmp_path_factory.mktemp("external-issuer"), kustomize)


def _one(render: ClusterRender, kind: str, namespace: str, name: str) -> Resource:
    [found] = [r for r in render.resources if r["kind"] == kind and r["metadata"].get("namespace", "") == namespace
               and r["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("fixture", ["sign_on", "gateway_tls", "gateway_tls_argocd", "external"])
def test_renders_verify_and_first_sync_without_a_finding(fixture: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(fixture)
    for cluster in built.renders:
        assert built.problems(cluster) == [], cluster


def test_dex_runs_the_connectors_without_the_static_user(sign_on: Built) -> None:
    render = sign_on.renders["gcp-euw4"]
    config = yaml.safe_load(_one(render, "ConfigMap", "auth", "dex")["data"]["config.yaml"])
    assert config["enablePasswordDB"] is False and "staticPasswords" not in config
    assert config["issuer"] == "http://dex.auth.svc.cluster.local:5556/dex"  # what oauth2-proxy and dex-jwt trust
    github, okta = config["connectors"]
    assert github["config"]["redirectURI"] == "https://kubeflow.euw4.acme.example.com/dex/callback"
    assert github["config"]["clientSecret"] == "$DEX_GITHUB_CLIENT_SECRET"
    assert okta["type"] == "oidc" and okta["config"]["issuer"] == "https://acme.okta.com"
    [container] = _one(render, "Deployment", "auth", "dex")["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "dex-oidc-client"}}]
    env = {e["name"]: e.get("valueFrom") for e in container["env"]}
    assert env["DEX_GITHUB_CLIENT_SECRET"] == {"secretKeyRef": {"name": "dex-github", "key": "client-secret"}}
    assert env["DEX_OKTA_CLIENT_SECRET"] == {"secretKeyRef": {"name": "dex-okta", "key": "client-secret"}}
    # Upstream's literal password hash is gone, and nothing replaces it.
    assert not [r for r in render.resources if r["metadata"]["name"] == "dex-passwords"]
    # The connector secrets arrive with Dex, in its cluster's auth unit.
    origins = {(r["kind"], r["metadata"]["name"]): o for r, o in zip(render.resources, render.origins)}
    assert origins[("ExternalSecret", "dex-github")] == origins[("Deployment", "dex")] == "units/auth-gcp-euw4"


def test_gateway_serves_https_with_the_certificate_from_its_issuer(gateway_tls: Built) -> None:
    for cluster, render in gateway_tls.renders.items():
        gateway = _one(render, "Gateway", "kubeflow", "kubeflow-gateway")
        http, https = gateway["spec"]["servers"]
        assert http["tls"] == {"httpsRedirect": True}
        assert https["port"]["number"] == 443 and https["tls"] == {"mode": "SIMPLE", "credentialName": tls.SECRET}
        certificate = _one(render, "Certificate", "istio-system", tls.CERTIFICATE)
        assert certificate["spec"]["dnsNames"] == https["hosts"] == http["hosts"], cluster
    assert _one(gateway_tls.renders["lab"], "Certificate", "istio-system", tls.CERTIFICATE)["spec"]["issuerRef"]["name"] == "acme-internal-ca"
    solvers = {c: _one(r, "ClusterIssuer", "", tls.ACME_ISSUER)["spec"]["acme"]["solvers"][0]["dns01"]
               for c, r in gateway_tls.renders.items() if c != "lab"}
    assert {c: sorted(s) for c, s in solvers.items()} == {"aws-use1": ["route53"], "gcp-euw4": ["cloudDNS"], "azure-weu": ["azureDNS"]}
    # cert-manager's own service account carries the identity its solver acts as.
    account = _one(gateway_tls.renders["aws-use1"], "ServiceAccount", "cert-manager", "cert-manager")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/kubeflow-use1"}
    controller = _one(gateway_tls.renders["azure-weu"], "Deployment", "cert-manager", "cert-manager")
    assert controller["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_ldap_and_saml_certificates_are_mounted_from_their_secrets(gateway_tls: Built) -> None:
    render = gateway_tls.renders["azure-weu"]
    spec = _one(render, "Deployment", "auth", "dex")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["sg-corp-ldap-ca"] == f"{signon.CA_ROOT}/corp-ldap" and mounts["sg-entra-ca"] == f"{signon.CA_ROOT}/entra"
    volumes = {v["name"]: v.get("secret") for v in spec["volumes"]}
    assert volumes["sg-entra-ca"] == {"secretName": "dex-saml", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


def test_a_connector_secret_synced_last_deadlocks_dex(sign_on: Built) -> None:
    render = sign_on.renders["aws-use1"]
    late = dataclasses.replace(render, origins=tuple(
        "clusters/aws-use1/own" if r["metadata"].get("name") == "dex-github" and r["kind"] in ("ExternalSecret", "SecretStore") else o
        for r, o in zip(render.resources, render.origins)))
    assert [p for p in sign_on.problems("aws-use1", late) if "[SG620]" in p and "auth/dex-github" in p]


def test_a_cluster_issuer_nobody_declared_is_never_delivered(gateway_tls: Built) -> None:
    """Without the annotation recording stack.yaml's `clusterIssuer`, the model finds no step delivering it."""
    render = gateway_tls.renders["lab"]
    resources = tuple(_unannotated(r) for r in render.resources)
    found = gateway_tls.problems("lab", dataclasses.replace(render, resources=resources))
    assert [p for p in found if "[SG622]" in p and "ClusterIssuer acme-internal-ca" in p]


def _unannotated(resource: Resource) -> Resource:
    if resource["kind"] != "Certificate" or resource["metadata"]["name"] != tls.CERTIFICATE:
        return resource
    metadata = {k: v for k, v in resource["metadata"].items() if k != "annotations"}
    return {**resource, "metadata": metadata}


def test_an_external_issuer_replaces_dex_for_oauth2_proxy_and_istio(external: Built) -> None:
    render = external.renders["nb-weu"]
    # Dex is not deployed: no Deployment, no static user, no client of its own.
    assert not [r for r in render.resources if r["metadata"].get("namespace") == "auth" or r["metadata"]["name"] == "auth"]
    issuer = "https://login.microsoftonline.com/6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b/v2.0"
    assert _one(render, "RequestAuthentication", "istio-system", "dex-jwt")["spec"]["jwtRules"][0]["issuer"] == issuer
    spec = _one(render, "Deployment", "oauth2-proxy", "oauth2-proxy")["spec"]["template"]["spec"]
    assert spec["volumes"][0] == {"name": "oauth2-proxy-config", "configMap": {"name": signon.OAUTH2_PROXY_CONFIG}}
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in spec["containers"][0]["env"]}
    assert env["OAUTH2_PROXY_CLIENT_SECRET"] == {"secretKeyRef": {"name": "entra-client", "key": "client-secret"}}
    assert env["OAUTH2_PROXY_COOKIE_SECURE"] == "true" and env["OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY"] == "false"
    config = _one(render, "ConfigMap", "oauth2-proxy", signon.OAUTH2_PROXY_CONFIG)["data"]["oauth2_proxy.cfg"]
    assert f'oidc_issuer_url = "{issuer}"' in config
    assert 'redirect_url = "https://kubeflow.weu.acme.example.com/oauth2/callback"' in config
    assert "skip_oidc_discovery" not in config and "prompt" not in config
