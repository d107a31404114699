"""TLS on the Kubeflow gateway: `clusters[].tls` -> a cert-manager Certificate, its issuer, and
the gateway's HTTPS server.

The Certificate lives in istio-system: an Istio Gateway's `credentialName` names a Secret in the
namespace of the gateway workload (istio-ingressgateway), not the Gateway's own (`kubeflow`)
(Istio docs, "Secure Gateways"). It and an ACME ClusterIssuer are the cluster's own objects,
which sync after every unit: cert-manager's CRDs, controller and webhook (unit cert-manager)
are healthy by then, and nothing waits for the Secret at sync time (the gateway loads it by
SDS when it appears), so the first sync cannot deadlock on it.

ACME proves the host by DNS-01 through the cloud's own DNS, with cert-manager's own service
account (`cert-manager/cert-manager`) carrying the cluster's workload identity: only a
ClusterIssuer may use such "ambient" credentials without cert-manager's
`--issuer-ambient-credentials` flag (cert-manager docs, ACME DNS01 "Route53": "ambient
credentials ... ClusterIssuer"), hence a ClusterIssuer. The identity's cloud role needs DNS
rights (cert-manager docs: Route53 IAM policy route53:ChangeResourceRecordSets/GetChange;
Cloud DNS roles/dns.admin; Azure "DNS Zone Contributor") and must trust
system:serviceaccount:cert-manager:cert-manager.
"""

from __future__ import annotations

import typing as t

from stackgen import yamlio
from stackgen.model import Cluster, Tls

Object = dict[str, t.Any]
CERTIFICATE = "stackgen-gateway"
SECRET = "stackgen-gateway-tls"  # the Secret the Certificate writes and the gateway serves
ACME_ISSUER = "stackgen-acme"
GATEWAY_NAMESPACE = "istio-system"
_CERT_MANAGER_API = "cert-manager.io/v1"
_CERT_MANAGER_ACCOUNT = {"version": "v1", "kind": "ServiceAccount", "name": "cert-manager", "namespace": "cert-manager"}
_CERT_MANAGER_DEPLOYMENT = {"group": "apps", "version": "v1", "kind": "Deployment", "name": "cert-manager", "namespace": "cert-manager"}


def issuer_name(tls: Tls) -> str:
    return tls.cluster_issuer or ACME_ISSUER


def objects(cluster: Cluster, labels: t.Mapping[str, str]) -> dict[str, Object]:
    """File name (in the cluster's own folder) -> object: the Certificate, and the ACME ClusterIssuer if stackgen writes it."""
    tls = cluster.tls
    assert tls is not None and cluster.ingress_host is not None, "place refuses tls without ingressHost (SG275)"
    certificate: Object = {
        "apiVersion": _CERT_MANAGER_API,
        "kind": "Certificate",
        "metadata": {"name": CERTIFICATE, "namespace": GATEWAY_NAMESPACE, "labels": dict(labels)},
        "spec": {
            "secretName": SECRET,
            "dnsNames": [cluster.ingress_host],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer_name(tls)},
            # A new key with every renewal: a leaked key stops working at the next rotation.
            "privateKey": {"rotationPolicy": "Always"},
        },
    }
    if tls.cluster_issuer:
        # The issuer is the cluster's own, not part of the sync: firstsync takes it as present.
        certificate["metadata"]["annotations"] = {PROVIDED_ISSUER: tls.cluster_issuer}
    found = {f"certificate-{GATEWAY_NAMESPACE}-{CERTIFICATE}.yaml": certificate}
    if tls.acme is not None:
        found[f"clusterissuer-{ACME_ISSUER}.yaml"] = _acme_issuer(cluster, labels)
    return found


# On a Certificate stackgen writes: the ClusterIssuer it names is one the cluster already has
# (stack.yaml `tls.clusterIssuer`), which no step of the sync delivers.
PROVIDED_ISSUER = "stackgen.io/provided-issuer"


def _acme_issuer(cluster: Cluster, labels: t.Mapping[str, str]) -> Object:
    tls = cluster.tls
    assert tls is not None and tls.acme is not None and cluster.ingress_host is not None
    acme = tls.acme
    return {
        "apiVersion": _CERT_MANAGER_API,
        "kind": "ClusterIssuer",
        "metadata": {"name": ACME_ISSUER, "labels": dict(labels)},
        "spec": {
            "acme": {
                "email": acme.email,
                "server": acme.server,
                # cert-manager creates the ACME account key here (in its cluster resource namespace).
                "privateKeySecretRef": {"name": f"{ACME_ISSUER}-account"},
                "solvers": [{"selector": {"dnsNames": [cluster.ingress_host]}, "dns01": _solver(cluster)}],
            }
        },
    }


def _solver(cluster: Cluster) -> Object:
    """The DNS-01 solver of the cluster's cloud, with ambient workload identity (place checks both, SG277/SG278)."""
    assert cluster.tls is not None and cluster.tls.acme is not None
    acme, identity = cluster.tls.acme, cluster.identity
    if acme.route53 is not None:
        # cert-manager docs, "Route53": with IRSA no credentials in the solver. Route 53 is
        # global, but since cert-manager v1.15 (AWS SDK v2) STS's endpoint is resolved from the
        # solver's region: without it AssumeRoleWithWebIdentity fails with "Missing Region".
        route53: Object = {"region": cluster.region}
        if acme.route53.hosted_zone_id:
            route53["hostedZoneID"] = acme.route53.hosted_zone_id
        return {"route53": route53}
    if acme.cloud_dns is not None:
        # cert-manager docs, "Google CloudDNS", "GKE Workload Identity": no serviceAccountSecretRef,
        # the KSA acts as the Google service account; the project defaults to the account's.
        assert identity.gcp_service_account is not None
        project = acme.cloud_dns.project or identity.gcp_service_account.split("@")[1].split(".")[0]
        return {"cloudDNS": {"project": project}}
    assert acme.azure_dns is not None and identity.azure_client_id is not None
    azure = acme.azure_dns
    # cert-manager docs, "AzureDNS", "Managed Identity Using AAD Workload Identity": the managed
    # identity's client id, and the zone's subscription and resource group.
    solver: Object = {"subscriptionID": azure.subscription_id, "resourceGroupName": azure.resource_group_name}
    if azure.hosted_zone_name:
        solver["hostedZoneName"] = azure.hosted_zone_name
    solver |= {"environment": "AzurePublicCloud", "managedIdentity": {"clientID": identity.azure_client_id}}
    return {"azureDNS": solver}


def gateway_operations(cluster: Cluster) -> list[Object]:
    """JSON-patch operations on `kubeflow/kubeflow-gateway` (upstream: one HTTP server on 80,
    common/istio/kubeflow-istio-resources): port 80 redirects to HTTPS, and a server on 443
    terminates TLS with the Certificate's Secret."""
    assert cluster.ingress_host is not None
    return [
        {"op": "add", "path": "/spec/servers/0/tls", "value": {"httpsRedirect": True}},
        {"op": "add", "path": "/spec/servers/-", "value": {
            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
            "hosts": [cluster.ingress_host],
            "tls": {"mode": "SIMPLE", "credentialName": SECRET},
        }},
    ]


def cert_manager_patches(cluster: Cluster) -> tuple[t.Mapping[str, t.Any], ...]:
    """Patches of `cert-manager-<cluster>`: cert-manager's service account carries the
    cluster's workload identity, which the ACME DNS-01 solver uses (ambient credentials)."""
    tls = cluster.tls
    # A cert-manager the cluster provides is not in any unit: its service account is the
    # cluster owner's to annotate (place warns, SG423), and a patch here would match nothing.
    if tls is None or tls.acme is None or "cert-manager" in cluster.provides:
        return ()
    held = cluster.identity
    annotations: dict[str, str] = {}
    pod_labels: dict[str, str] = {}
    if cluster.cloud == "aws" and held.aws_role_arn:
        annotations["eks.amazonaws.com/role-arn"] = held.aws_role_arn  # EKS IRSA
    elif cluster.cloud == "gcp" and held.gcp_service_account:
        annotations["iam.gke.io/gcp-service-account"] = held.gcp_service_account  # GKE Workload Identity
    elif cluster.cloud == "azure" and held.azure_client_id:
        annotations["azure.workload.identity/client-id"] = held.azure_client_id
        # Azure Workload Identity's webhook injects the token only into pods labelled so
        # (cert-manager docs, AzureDNS: `podLabels: azure.workload.identity/use: "true"`).
        pod_labels["azure.workload.identity/use"] = "true"
    # Strategic merges: they add to whatever annotations and labels upstream gives these objects.
    identity = {"name": "cert-manager", "namespace": "cert-manager"}
    patches: list[t.Mapping[str, t.Any]] = [{
        "target": dict(_CERT_MANAGER_ACCOUNT),
        "patch": yamlio.OVERLAYS.dump({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {**identity, "annotations": annotations}}),
    }]
    if pod_labels:
        patches.append({"target": dict(_CERT_MANAGER_DEPLOYMENT), "patch": yamlio.OVERLAYS.dump({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": identity,
            "spec": {"template": {"metadata": {"labels": pod_labels}}}})})
    return tuple(patches)
