"""The one registry of diagnostic codes: what each means, how severe it is, which module emits
it, and an example of what sets it off. docs/reference.md publishes it (stackgen.reference), and
tests/test_codes.py proves that every code the source emits is here, that every code here is
emitted, and that each is emitted only by the modules listed (each rule has one home).

Codes are stable: tests, CI annotations and users' scripts rely on them. Ranges follow the
pipeline: SG0xx load, SG1xx schema, SG2xx references and placement, SG3xx credentials,
SG25x rollout waves, SG4xx placement's refusals, SG6xx verify and the first sync, SG7xx the
environment, SG8xx what an upgrade plan asks a person to do before the sync.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from stackgen.diagnostics import Severity


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    emitted_by: tuple[str, ...]  # modules under stackgen/, without `.py`
    meaning: str  # one line
    example: str  # what sets it off


def _codes(*codes: Code) -> t.Mapping[str, Code]:
    return {c.code: c for c in codes}


_LOAD, _VALIDATE, _PLACE, _VERIFY, _FIRSTSYNC, _ERRORS = ("load",), ("validate",), ("place",), ("verify",), ("firstsync",), ("errors",)
_RELEASES, _PLAN = ("releases",), ("plan",)

CODES: t.Mapping[str, Code] = _codes(
    Code("SG001", "error", _LOAD, "file cannot be read", "stack.yaml without read permission"),
    Code("SG002", "error", _LOAD, "file larger than the size limit", "a 20 MiB stack.yaml"),
    Code("SG003", "error", _LOAD, "not UTF-8 text, or a character YAML cannot hold", "a file saved as UTF-16"),
    Code("SG004", "error", _LOAD, "tab character in indentation", "`\\tname: a` under `clusters:`"),
    Code("SG005", "error", _LOAD, "several YAML documents in one file", "a second document after `---`"),
    Code("SG006", "error", _LOAD, "YAML anchor or alias", "`roles: *common`"),
    Code("SG007", "error", _LOAD, "more nodes than the limit", "a list of millions of items"),
    Code("SG008", "error", _LOAD, "nesting deeper than the limit", "`[[[[...]]]]` 200 levels deep"),
    Code("SG009", "error", _LOAD, "YAML syntax error", "`name: [a, b` with no closing bracket"),
    Code("SG010", "error", _LOAD, "empty file", "a stack.yaml with only comments"),
    Code("SG011", "error", _LOAD, "top level is not a mapping", "a stack.yaml that is a list"),
    Code("SG012", "error", _LOAD, "YAML tag not allowed", "`size: !!binary aGk=`"),
    Code("SG013", "error", _LOAD, "mapping key that is a mapping or a list", "`? [a, b]: 1`"),
    Code("SG014", "error", _LOAD, "duplicate key (reported at the second)", "`region:` twice in one cluster"),
    Code("SG015", "error", _LOAD, "key that YAML does not read as a string", "`on: true` (YAML 1.1 reads `on` as true)"),
    Code("SG016", "error", _LOAD, "number literal too long, or a scalar its tag cannot read", "`workers:` followed by 5,000 digits"),
    Code("SG017", "error", _LOAD, "number that only YAML 1.1 reads that way", "`workers: 017` (octal in YAML 1.1)"),
    Code("SG101", "error", _VALIDATE, "unknown key", "`regoin: us-east-1`"),
    Code("SG102", "error", _VALIDATE, "missing required key (reported at its parent)", "a cluster without `region`"),
    Code("SG103", "error", _VALIDATE, "value not among the allowed ones", "`cloud: amazon`"),
    Code("SG104", "error", _VALIDATE, "wrong type", "`roles: training` instead of `[training]`"),
    Code("SG105", "error", _VALIDATE, "malformed value", "`image: nginx:latest`"),
    Code("SG106", "error", _VALIDATE, "value out of range or of the wrong size", "`kubernetesVersion: \"1.99\"`"),
    Code("SG107", "error", _VALIDATE, "unknown component", "`components: {kubeflwo: ...}`"),
    Code("SG108", "error", _VALIDATE, "kubernetesVersion written as a YAML number", "`kubernetesVersion: 1.30` (YAML reads 1.3)"),
    Code("SG201", "error", _VALIDATE, "duplicate name", "two clusters named `aws-use1`"),
    Code("SG202", "error", ("validate", "errors"), "reference to something stack.yaml does not declare",
         "`serveOn: [servng]`, or `stackgen explain model/nope`"),
    Code("SG203", "error", _VALIDATE, "cluster named like a role or a cloud", "a cluster named `training` or `aws`"),
    Code("SG204", "error", _PLACE, "training job whose dataset is on a cluster without the training role",
         "a job reading a dataset on a serving-only cluster"),
    Code("SG205", "error", _PLACE, "model whose serveOn selects no cluster", "`serveOn: [edge]` with no edge cluster"),
    Code("SG206", "error", _VALIDATE, "identity or OIDC issuer that does not fit its cluster", "`awsRoleArn` on a GCP cluster"),
    Code("SG207", "error", _PLACE, "secret that needs credentials (`auth.secretRef`) to reach its store",
         "a `vault` secret without `auth`"),
    Code("SG208", "warning", _PLACE, "secret that lands on no cluster", "a secret in a namespace no workload uses"),
    Code("SG209", "warning", _VALIDATE, "role selector that no cluster has yet", "`runsOn: [edge]` before the first edge cluster"),
    Code("SG210", "error", _VALIDATE, "hub topology with a cluster that has no `server`", "`topology: hub` and a cluster without `server`"),
    Code("SG211", "error", ("validate", "place"), "two declarations that become the same file or object",
         "secrets `a-b/c` and `a/b-c` (both `secretstore-a-b-c.yaml`)"),
    Code("SG250", "error", _RELEASES, "rollout wave that names no cluster and no role of the stack", "`clusters: [gcp-canry]` in a wave"),
    Code("SG251", "error", _RELEASES, "cluster in two rollout waves", "`gcp-train` named in both `canary` and `rest`"),
    Code("SG252", "error", _RELEASES, "cluster in no rollout wave, where waves are declared", "a new cluster no wave names or selects"),
    Code("SG253", "error", _RELEASES, "later rollout wave on a newer Kubeflow release than an earlier one",
         "`canary` on v1.11.0 and `rest` on 26.03"),
    Code("SG270", "error", _PLACE, "sign-on secret that spec.secrets does not declare where its reader runs (`auth` for Dex, `oauth2-proxy`)",
         "`clientSecret: {name: dex-github, key: client-secret}` with no secret `dex-github` in namespace auth"),
    Code("SG271", "error", _PLACE, "sign-on connector with no provider block, or several", "a connector with both `github` and `oidc`"),
    Code("SG272", "error", _PLACE, "two sign-on connectors with the same id", "two connectors `id: corp`"),
    Code("SG273", "error", _PLACE, "cluster running sign-on (Dex connectors or an external issuer) without `ingressHost` for the callback",
         "spec.signOn and a cluster with pipelines and no ingressHost"),
    Code("SG274", "error", _PLACE, "sign-on secret that does not reach a cluster where auth runs",
         "a connector secret in aws-secrets-manager and Dex on a GKE cluster, without runsOn and auth"),
    Code("SG275", "error", _PLACE, "tls on a cluster without `ingressHost`", "`tls: {clusterIssuer: letsencrypt}` and no ingressHost"),
    Code("SG276", "error", _PLACE, "tls on a cluster that runs no Kubeflow gateway (Istio)", "`tls` on an edge cluster"),
    Code("SG277", "error", _PLACE, "ACME issuer without exactly the DNS-01 solver of the cluster's cloud", "`route53` on a GKE cluster"),
    Code("SG278", "error", _PLACE, "ACME DNS-01 solver on a cluster without the workload identity cert-manager acts as",
         "`cloudDNS` on a GKE cluster without identity.gcpServiceAccount"),
    Code("SG279", "error", _PLACE, "tls with both or neither of `clusterIssuer` and `acme`", "`tls: {}`"),
    Code("SG301", "error", _VALIDATE, "literal credential in stack.yaml (shown masked)", "`password: hunter2`"),
    Code("SG401", "error", _PLACE, "EKS cluster running auth without its OIDC issuer", "an aws cluster with kubeflow and no `oidcIssuer`"),
    Code("SG402", "error", _PLACE, "component or training job on an edge cluster, which runs only core KServe",
         "`istio` with `runsOn: [edge]`"),
    Code("SG404", "error", _PLACE, "training runtime that Trainer does not ship at this release", "`runtime: torch-ultra`"),
    Code("SG405", "error", _PLACE, "pvc:// dataset used for training without a `size`", "`uri: pvc://imagenet` and no `size`"),
    Code("SG406", "error", _PLACE, "secret whose key does not say where its store is", "a vault secret whose key names no server"),
    Code("SG407", "error", _PLACE, "upstream default credential with no store to replace it from",
         "auth on an Azure cluster without a `dex-passwords` secret"),
    Code("SG408", "error", _PLACE, "S3 credentials that do not reach a namespace whose workloads read the endpoint",
         "`s3Credentials: minio` declared only in another namespace"),
    Code("SG409", "error", _PLACE, "dataset or model in a store no credential on its cluster reaches",
         "an `s3://` model served on GKE without `s3Endpoint` and `s3Credentials`"),
    Code("SG410", "warning", _PLACE, "dataset or model only the node's own identity or anonymous access reaches",
         "an `s3://` dataset on EKS without `identity.awsRoleArn`"),
    Code("SG420", "warning", _PLACE, "spec.signOn declared where no cluster runs auth: it changes nothing",
         "sign-on connectors in a fleet that runs only KServe"),
    Code("SG421", "error", _PLACE, "spec.signOn with both or neither of Dex `connectors` and an `externalIssuer`",
         "`signOn: {connectors: [...], externalIssuer: {...}}`"),
    Code("SG422", "warning", _PLACE, "sign-on on a cluster without `tls`: its callback and session cookie travel over plain HTTP",
         "spec.signOn and a cluster with ingressHost but no tls"),
    Code("SG601", "warning", _VERIFY, "no schema or CRD for a kind: not validated", "a custom kind whose CRD is not pinned"),
    Code("SG602", "error", _VERIFY, "resource its Kubernetes or CRD schema rejects", "a Deployment without `spec.selector`"),
    Code("SG603", "error", _VERIFY, "Argo CD or Flux object that its real CRD rejects", "an Application without `spec.destination`"),
    Code("SG610", "error", _VERIFY, "duplicate resource id", "two ConfigMaps with the same namespace and name"),
    Code("SG611", "error", _VERIFY, "image not pinned (no tag, or `latest`)", "`image: nginx:latest`"),
    Code("SG612", "error", _VERIFY, "GPU workload that requests no GPU", "a pod tolerating GPU nodes without `nvidia.com/gpu`"),
    Code("SG613", "error", _VERIFY, "Secret with literal data authored by stackgen", "a Secret in a cluster's own objects with `data:`"),
    Code("SG614", "error", _VERIFY, "unresolved kustomize var", "`$(CLUSTER_ID)` left in a rendered object"),
    Code("SG615", "error", _VERIFY, "CA injection from another piece's Certificate", "`inject-ca-from` naming a Certificate of another unit"),
    Code("SG616", "error", _VERIFY, "Certificate issued by another piece's Issuer", "a unit's Certificate using another unit's Issuer"),
    Code("SG617", "error", _VERIFY, "image outside `spec.registry.mirror`", "`docker.io/nginx:1.27` with a mirror set"),
    Code("SG618", "error", _VERIFY, "Secret that still carries one of upstream's default credentials", "`auth/dex-passwords` as upstream ships it"),
    Code("SG620", "error", _FIRSTSYNC, "a pod template's Secret or ConfigMap is delivered later than the pod, or by nothing",
         "a Deployment in wave 0 reading a Secret of wave 2"),
    Code("SG621", "error", _FIRSTSYNC, "a ServiceAccount, PVC, StorageClass or Namespace is delivered later, or by nothing",
         "a PVC whose StorageClass no step delivers"),
    Code("SG622", "error", _FIRSTSYNC, "an ExternalSecret's or Certificate's store, issuer or controller comes later, or never",
         "an ExternalSecret synced before external-secrets runs"),
    Code("SG623", "error", _FIRSTSYNC, "a custom resource's CRD is delivered later, or by nothing", "an InferenceService before KServe's CRDs"),
    Code("SG624", "error", _FIRSTSYNC, "an object admitted by a failing webhook whose backend comes later",
         "a Certificate admitted by cert-manager's webhook before cert-manager runs"),
    Code("SG625", "error", _FIRSTSYNC, "a LoadBalancer Service needs a controller the cluster does not run",
         "AWS load-balancer annotations on a cluster without the controller"),
    Code("SG626", "error", _FIRSTSYNC, "a mesh namespace under a deny-all has no ALLOW AuthorizationPolicy",
         "a model's namespace in the mesh with no policy letting the gateway in"),
    Code("SG627", "error", _FIRSTSYNC, "a name or label stackgen writes exceeds 63 characters", "an Application name of 70 characters"),
    Code("SG628", "warning", _FIRSTSYNC, "a kind the first-sync model does not understand: its prerequisites go unchecked",
         "a custom kind no engine object delivers"),
    Code("SG701", "error", _ERRORS, "output directory that stackgen does not own (files, no .stackgen.lock)", "`-o ~/src` holding other files"),
    Code("SG702", "error", _ERRORS, "output directory that cannot be written (permissions, full disk, busy)", "`-o /` as a normal user"),
    Code("SG703", "error", _ERRORS, "no usable kustomize", "`stackgen render` with neither kustomize nor kubectl on PATH"),
    Code("SG704", "error", _ERRORS, "no upstream mirror for the pin, or one that lacks what the overlays use",
         "`stackgen render` before `stackgen vendor`"),
    Code("SG705", "error", _ERRORS, "overlays stale or missing: run `stackgen build` first (exit 1)", "`stackgen render` after editing stack.yaml"),
    Code("SG706", "error", _ERRORS, "a cluster the stack does not declare", "`--cluster nope`, or `stackgen explain cluster/nope` (exit 1)"),
    Code("SG707", "error", _ERRORS, "a file stackgen would write is in the way", "`stackgen init` where stack.yaml exists"),
    Code("SG708", "error", _ERRORS, "a golden file that cannot be read as one: a link, a special or oversized file, damaged YAML or index (exit 1)",
         "golden/<cluster>/index.yaml that is a symbolic link"),
    Code("SG801", "error", _PLAN, "upgrade plan: prune deletes a CustomResourceDefinition, and every custom resource of its kind",
         "a CRD the new release no longer ships"),
    Code("SG802", "error", _PLAN, "upgrade plan: prune deletes a PersistentVolumeClaim or StatefulSet (data)",
         "a StatefulSet the new release renames"),
    Code("SG803", "error", _PLAN, "upgrade plan: prune deletes a database of Pipelines, Katib or Model Registry",
         "Pipelines' MySQL Deployment gone from the new render"),
    Code("SG804", "error", _PLAN, "upgrade plan: prune deletes a Namespace, and everything in it", "a namespace the new release drops"),
    Code("SG805", "error", _PLAN, "upgrade plan: an immutable field changes, so a plain apply fails",
         "a Deployment whose `spec.selector` changes"),
    Code("SG806", "error", _PLAN, "upgrade plan: a CRD version leaves spec.versions while stored objects may use it",
         "`v1alpha1` dropped from a CRD"),
    Code("SG807", "error", _PLAN, "upgrade plan: a resource moves to another namespace", "a ConfigMap moving from `kubeflow` to `kubeflow-system`"),
)
"""Every code, in order. Environment codes (SG7xx) have a file but no line and exit 2 unless
said otherwise; all others are diagnostics at a line of stack.yaml or a rendered resource."""

