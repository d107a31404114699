"""place: what runs where, and why."""

from __future__ import annotations

from stackgen.compile.overlays import compile_stack
from stackgen.place import place
from tests.compiling import BUNDLED, HEADER, model_of, placed


def test_bundled_stack_places_training_by_its_data_and_models_on_serving_and_edge() -> None:
    stack, placement = placed(BUNDLED.read_text())
    aws = placement.plan("aws-use1")
    assert [j.name for j in aws.training_jobs] == ["resnet50"]
    assert "trainer" in aws.component_names
    for name in ("gcp-euw4", "azure-weu", "edge-store17"):
        assert "kserve" in placement.plan(name).component_names
        assert [m.name for m in placement.plan(name).models] == ["resnet50"]
    assert "kserve" not in aws.component_names
    assert placement.findings == ()


def test_dependencies_follow_and_come_first() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: c1, cloud: onprem, region: r, kubernetesVersion: "1.31", roles: [training]}
  components:
    pipelines: {runsOn: [training]}
""")
    names = placement.plan("c1").component_names
    assert names == ("kubeflow-namespace", "cert-manager", "istio", "auth", "profiles", "pipelines")
    reasons = {c.name: c.reasons for c in placement.plan("c1").components}
    assert reasons["pipelines"] == ("components.pipelines.runsOn selects role `training`",)
    assert reasons["auth"] == ("needed by pipelines",)


def test_edge_gets_core_kserve_only() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: shop, cloud: onprem, region: r, kubernetesVersion: "1.31", roles: [edge]}
  components:
    kserve: {runsOn: [edge]}
""")
    assert placement.plan("shop").component_names == ("kubeflow-namespace", "cert-manager", "kserve")


def test_edge_refuses_a_mesh_component_at_its_runs_on() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: shop, cloud: onprem, region: r, kubernetesVersion: "1.31", roles: [edge]}
  components:
    pipelines: {runsOn: [shop]}
""")
    [finding] = placement.findings
    assert finding.code == "SG402"
    assert finding.path == ("spec", "components", "pipelines", "runsOn")
    assert "edge cluster `shop`" in finding.message


def test_eks_auth_needs_the_oidc_issuer() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: e1, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [notebooks]}
  components:
    notebooks: {runsOn: [notebooks]}
""")
    [finding] = placement.findings
    assert (finding.code, finding.path) == ("SG401", ("spec", "clusters", 0))
    assert "oidcIssuer" in (finding.hint or "")


def test_secret_without_runs_on_follows_workloads_on_its_store_cloud() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [serving]}
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [serving]}
    - {name: b, cloud: aws, region: us-east-2, kubernetesVersion: "1.31", roles: [training]}
  models:
    - {name: m, storageUri: "s3://x/y", format: onnx, serveOn: [serving]}
  secrets:
    - {name: s3, store: aws-secrets-manager, key: k}
    - {name: other-ns, namespace: elsewhere, store: aws-secrets-manager, key: k}
    - {name: v, store: vault, key: k}
""")
    assert [s.name for s in placement.plan("a").secrets] == ["s3", "v"]
    assert [s.name for s in placement.plan("g").secrets] == ["v"]
    assert placement.plan("b").secrets == ()
    assert placement.plan("a").namespaces == ("ml",)


def test_placement_is_sorted_by_cluster_name_whatever_the_file_order() -> None:
    stack = model_of(BUNDLED.read_text())
    assert [p.cluster.name for p in place(stack).plans] == sorted(c.name for c in stack.clusters)


# --- upstream's default credentials: replaced by references ---------------------------------

_CREDENTIALS = HEADER + """
  clusters:
    - {name: eks, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [training], oidcIssuer: "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"}
    - {name: aks, cloud: azure, region: westeurope, kubernetesVersion: "1.31", roles: [training], identity: {azureTenantId: 6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b}}
  components:
    katib: {runsOn: [training]}
    notebooks: {runsOn: [training]}
"""


def test_default_credentials_come_from_the_clusters_own_store_or_a_clear_error() -> None:
    _, placement = placed(_CREDENTIALS)
    eks = placement.plan("eks")
    assert {(s.namespace, s.name, s.store, s.key) for s in eks.credentials} >= {
        ("kubeflow", "katib-mysql-secrets", "aws-secrets-manager", "stackgen/eks/kubeflow/katib-mysql-secrets"),
        ("auth", "dex-passwords", "aws-secrets-manager", "stackgen/eks/auth/dex-passwords"),
    }
    assert eks.secrets == () and "kubeflow" not in eks.namespaces  # upstream creates its namespaces
    errors = [f for f in placement.findings if f.code == "SG407"]
    assert {f.path for f in errors} == {("spec", "clusters", 1), ("spec", "components", "katib")}  # auth comes unlisted
    assert len(errors) == 4  # katib's MySQL and the three of auth, on aks
    assert any("katib-mysql-secrets" in f.message and "azure-key-vault" in (f.hint or "") for f in errors)
    assert all("`aks`" in f.message for f in errors)


def test_a_declared_reference_replaces_the_default_where_its_component_runs() -> None:
    declared = _CREDENTIALS + """
  secrets:
    - {name: katib-mysql-secrets, namespace: kubeflow, store: azure-key-vault, key: acme-kv/katib-mysql}
    - {name: dex-passwords, namespace: auth, store: azure-key-vault, key: acme-kv/dex-passwords}
    - {name: dex-oidc-client, namespace: auth, store: azure-key-vault, key: acme-kv/dex-oidc-client}
    - {name: oauth2-proxy, namespace: oauth2-proxy, store: azure-key-vault, key: acme-kv/oauth2-proxy}
"""
    _, placement = placed(declared)
    assert placement.findings == ()
    aks = placement.plan("aks")
    assert {(s.name, s.key) for s in aks.credentials} == {
        ("katib-mysql-secrets", "acme-kv/katib-mysql"), ("dex-passwords", "acme-kv/dex-passwords"),
        ("dex-oidc-client", "acme-kv/dex-oidc-client"), ("oauth2-proxy", "acme-kv/oauth2-proxy"),
    }
    assert all(s.store == "aws-secrets-manager" for s in placement.plan("eks").credentials)  # Key Vault stays on Azure


def test_a_job_where_nothing_trains_is_refused_and_placed_nowhere() -> None:
    # An edge cluster without the training role: SG204 alone, not also SG402 for trainer on edge.
    _, placement = placed(HEADER + """
  clusters:
    - {name: t, cloud: onprem, region: r, kubernetesVersion: "1.31", roles: [training]}
    - {name: e, cloud: onprem, region: r, kubernetesVersion: "1.31", roles: [edge]}
  datasets:
    - {name: d, uri: "s3://b/d", cluster: e}
  trainingJobs:
    - {name: j, dataset: d, image: "x/y:1"}
""")
    assert [(f.code, f.path, f.hint) for f in placement.findings] == [
        ("SG204", ("spec", "trainingJobs", 0, "dataset"), "clusters that could hold it: t; or give `e` the training role")]
    assert [p.training_jobs for p in placement.plans] == [(), ()]
    assert "trainer" not in placement.plan("e").component_names


def test_a_secret_that_cannot_reach_its_store_is_not_judged_on_its_key_there() -> None:
    # From gcp an AWS secret needs credentials (SG207); its key's region (SG406) is judged once it has them.
    text = HEADER + """
  clusters:
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [serving]}
  secrets:
    - {name: s, store: aws-secrets-manager, key: k, runsOn: [g]}
"""
    _, placement = placed(text)
    assert [f.code for f in placement.findings] == ["SG207"]
    _, placement = placed(text.replace("runsOn: [g]}", "runsOn: [g], auth: {secretRef: {name: aws-creds}}}"))
    assert [f.code for f in placement.findings] == ["SG406"]


# --- sign-on and gateway TLS ----------------------------------------------------------------

_SIGN_ON = """
  components:
    centraldashboard: {runsOn: [notebooks]}
  signOn:
    connectors:
      - {id: github, displayName: GitHub, github: {clientID: Iv1.abc, clientSecretRef: {name: dex-github, key: client-secret}}}
  secrets:
    - {name: dex-github, namespace: auth, store: gcp-secret-manager, key: projects/acme-ml/secrets/dex-github}
"""


def test_connector_secrets_land_with_dex_and_the_static_user_is_not_replaced() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: g1, cloud: gcp, region: europe-west4, kubernetesVersion: "1.32", roles: [notebooks], ingressHost: kf.acme.example.com,
       identity: {gcpServiceAccount: kf-g1@acme-ml.iam.gserviceaccount.com}, tls: {clusterIssuer: letsencrypt-prod}}
""" + _SIGN_ON)
    assert placement.findings == ()
    plan = placement.plan("g1")
    assert [s.name for s in plan.sign_on_secrets] == ["dex-github"]
    assert plan.secrets == ()  # not a workload secret: it travels in the auth unit
    assert sorted(s.name for s in plan.credentials) == ["dex-oidc-client", "oauth2-proxy"]  # no dex-passwords


def test_sign_on_without_ingress_host_or_out_of_reach_is_refused_at_the_cluster_and_reference() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: a1, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [notebooks], oidcIssuer: "https://oidc.eks.us-east-1.amazonaws.com/id/X1"}
""" + _SIGN_ON)
    found = {(f.code, f.path) for f in placement.findings}
    assert ("SG273", ("spec", "clusters", 0)) in found
    ref = ("spec", "signOn", "connectors", 0, "github", "clientSecretRef", "name")
    assert ("SG274", ref) in found


def test_tls_brings_cert_manager_and_each_acme_rule_is_located() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - name: g1
      cloud: gcp
      region: europe-west4
      kubernetesVersion: "1.32"
      roles: [notebooks]
      ingressHost: kf.acme.example.com
      tls: {acme: {email: ops@acme.example.com, server: "https://acme-v02.api.letsencrypt.org/directory", cloudDNS: {}}}
  components:
    centraldashboard: {runsOn: [notebooks]}
""")
    assert "cert-manager" in placement.plan("g1").component_names
    [finding] = [f for f in placement.findings if f.code.startswith("SG27")]
    assert (finding.code, finding.path) == ("SG278", ("spec", "clusters", 0, "tls", "acme", "cloudDNS"))
    assert "gcpServiceAccount" in (finding.hint or "")


def test_acme_on_a_provided_cert_manager_warns_and_patches_no_account_it_does_not_deploy() -> None:
    """The solver acts as cert-manager's service account; a provided cert-manager's is not in any
    unit, so a patch of it would match nothing and the identity would silently never arrive."""
    stack, placement = placed(HEADER + """
  clusters:
    - name: g1
      cloud: gcp
      region: europe-west4
      kubernetesVersion: "1.32"
      roles: [notebooks]
      ingressHost: kf.acme.example.com
      identity: {gcpServiceAccount: kf-g1@acme-ml.iam.gserviceaccount.com}
      provides: [cert-manager]
      tls: {acme: {email: ops@acme.example.com, server: "https://acme-v02.api.letsencrypt.org/directory", cloudDNS: {}}}
  components:
    centraldashboard: {runsOn: [notebooks]}
""")
    [finding] = [f for f in placement.findings if f.code.startswith(("SG27", "SG42"))]
    assert (finding.code, finding.severity, finding.path) == ("SG423", "warning", ("spec", "clusters", 0, "tls", "acme", "cloudDNS"))
    files = compile_stack(stack, placement).files
    assert "units/cert-manager-g1/kustomization.yaml" not in files
    assert "clusters/g1/own/clusterissuer-stackgen-acme.yaml" in files


def test_sign_on_over_plain_http_is_a_warning_at_the_cluster() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: g1, cloud: gcp, region: europe-west4, kubernetesVersion: "1.32", roles: [notebooks], ingressHost: kf.acme.example.com,
       identity: {gcpServiceAccount: kf-g1@acme-ml.iam.gserviceaccount.com}}
    - {name: g2, cloud: gcp, region: europe-west4, kubernetesVersion: "1.32", roles: [notebooks], ingressHost: kf2.acme.example.com,
       identity: {gcpServiceAccount: kf-g2@acme-ml.iam.gserviceaccount.com}, tls: {clusterIssuer: letsencrypt-prod}}
""" + _SIGN_ON)
    [finding] = placement.findings
    assert (finding.code, finding.path, finding.severity) == ("SG422", ("spec", "clusters", 0), "warning")


def test_sign_on_that_changes_nothing_or_says_nothing_is_reported() -> None:
    serving = """
  clusters:
    - {name: g1, cloud: gcp, region: europe-west4, kubernetesVersion: "1.32", roles: [serving]}
  components:
    kserve: {runsOn: [serving]}
"""
    _, placement = placed(HEADER + serving + """  signOn:
    connectors:
      - {id: github, displayName: GitHub, github: {clientID: Iv1.abc, clientSecretRef: {name: dex-github, key: client-secret}}}
  secrets:
    - {name: dex-github, namespace: auth, store: gcp-secret-manager, key: projects/acme-ml/secrets/dex-github}
""")
    assert [(f.code, f.path, f.severity) for f in placement.findings if f.code == "SG420"] == [("SG420", ("spec", "signOn"), "warning")]
    _, placement = placed(HEADER + serving + "  signOn: {}\n")
    assert [f.code for f in placement.findings] == ["SG421", "SG420"]
