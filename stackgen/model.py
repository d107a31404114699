"""model: a schema-valid YAML tree -> frozen, typed `Stack` with every default applied.

Nothing after this stage reads raw dicts. Each entity keeps the JSON path it came from, so later
stages (place) can report a problem at the line of the job or model that caused it.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t
from dataclasses import dataclass

from stackgen import catalog, releases
from stackgen.diagnostics import JsonPath

Cloud = t.Literal["aws", "gcp", "azure", "onprem"]
Role = t.Literal["training", "serving", "notebooks", "edge"]
ROLES: tuple[Role, ...] = ("training", "serving", "notebooks", "edge")

DEFAULT_STORAGE_CLASS: t.Mapping[str, str] = {
    "aws": "gp3",
    "gcp": "pd-balanced",
    "azure": "managed-csi",
    "onprem": "local-path",
}
DEFAULT_NAMESPACE = "ml"
DEFAULT_RUNTIME = "torch-distributed"

# The cloud whose workload identity can read each secret store without extra credentials.
STORE_CLOUD: t.Mapping[str, str | None] = {
    "aws-secrets-manager": "aws",
    "gcp-secret-manager": "gcp",
    "azure-key-vault": "azure",
    "vault": None,
}


@dataclass(frozen=True)
class Gpu:
    vendor: str
    type: str
    count: int | None = None


@dataclass(frozen=True)
class Identity:
    aws_role_arn: str | None = None
    gcp_service_account: str | None = None
    azure_client_id: str | None = None
    azure_tenant_id: str | None = None


Foundation = t.Literal["istio", "cert-manager", "gpu-operator", "external-secrets"]
DEFAULT_DATABASE_PORT = 3306


@dataclass(frozen=True)
class Database:
    """An external MySQL server that Pipelines, Katib and Model Registry use instead of their own."""

    host: str
    credentials: str  # a spec.secrets name: remote JSON {username, password}
    port: int = DEFAULT_DATABASE_PORT


@dataclass(frozen=True)
class ObjectStore:
    """An external S3-compatible bucket that Pipelines uses instead of its SeaweedFS."""

    bucket: str
    credentials: str  # a spec.secrets name: remote JSON {AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY}
    endpoint: str | None = None  # None: the cloud's own S3 API (storage.s3_api)
    region: str | None = None


@dataclass(frozen=True)
class Route53:
    hosted_zone_id: str | None = None


@dataclass(frozen=True)
class CloudDns:
    project: str | None = None


@dataclass(frozen=True)
class AzureDns:
    subscription_id: str
    resource_group_name: str
    hosted_zone_name: str | None = None


DnsSolver = t.Literal["route53", "cloudDNS", "azureDNS"]
_DNS_SOLVERS: tuple[DnsSolver, ...] = ("route53", "cloudDNS", "azureDNS")


@dataclass(frozen=True)
class Acme:
    email: str
    server: str
    path: JsonPath
    solvers: tuple[DnsSolver, ...] = ()  # the solver blocks declared (place: exactly one, SG277)
    route53: Route53 | None = None
    cloud_dns: CloudDns | None = None
    azure_dns: AzureDns | None = None


@dataclass(frozen=True)
class Tls:
    """clusters[].tls: a Certificate for the cluster's ingressHost, from an existing ClusterIssuer or ACME."""

    path: JsonPath
    cluster_issuer: str | None = None
    acme: Acme | None = None


@dataclass(frozen=True)
class Cluster:
    name: str
    cloud: Cloud
    region: str
    kubernetes_version: str
    roles: tuple[Role, ...]
    storage_class: str
    path: JsonPath
    server: str | None = None
    gpu: Gpu | None = None
    identity: Identity = Identity()
    oidc_issuer: str | None = None
    ingress_host: str | None = None
    s3_endpoint: str | None = None
    s3_credentials: str | None = None
    database: Database | None = None
    object_store: ObjectStore | None = None
    provides: tuple[Foundation, ...] = ()
    tls: Tls | None = None
    # spec.rollout.waves: the cluster's wave, and the release and git revision it runs (None: the fleet's).
    wave: str | None = None
    release: str | None = None
    revision: str | None = None

    @property
    def is_edge(self) -> bool:
        return "edge" in self.roles


@dataclass(frozen=True)
class ComponentRequest:
    name: str
    runs_on: tuple[str, ...]
    path: JsonPath


@dataclass(frozen=True)
class Dataset:
    name: str
    uri: str
    cluster: str
    path: JsonPath
    size: str | None = None


@dataclass(frozen=True)
class TrainingJob:
    name: str
    dataset: str
    image: str
    workers: int
    gpus_per_worker: int
    namespace: str
    runtime: str
    path: JsonPath


@dataclass(frozen=True)
class Model:
    name: str
    storage_uri: str
    format: str
    serve_on: tuple[str, ...]
    replicas: int
    namespace: str
    path: JsonPath
    gpus: int = 0


@dataclass(frozen=True)
class SecretRef:
    name: str
    namespace: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Secret:
    name: str
    namespace: str
    store: str
    key: str
    path: JsonPath
    runs_on: tuple[str, ...] | None = None
    auth: SecretRef | None = None
    value_as: str | None = None  # a plain-string remote value lands under this key
    # (Secret key, remote JSON property) pairs: the remote object's fields under other names
    # (an external database's `username` as Katib's `DB_USER`). Set by place, never by stack.yaml.
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Contributor:
    """Someone besides the owner who may use a tenant's namespace, as KFAM records them."""

    user: str
    role: t.Literal["edit", "view"] = "edit"


@dataclass(frozen=True)
class Tenant:
    """`spec.tenants[]`: a Kubeflow Profile, and so a namespace, on each cluster it lands on."""

    name: str
    owner: str
    path: JsonPath
    contributors: tuple[Contributor, ...] = ()
    resource_quota: tuple[tuple[str, str], ...] = ()  # (resource, quantity), sorted: key order in stack.yaml changes nothing
    clusters: tuple[str, ...] | None = None  # None: every cluster that runs `profiles`
    identity: Identity = Identity()

    def identity_on(self, cluster: Cluster) -> Identity:
        """The namespace's identity on `cluster`: the tenant's own for that cloud, else the cluster's."""
        own, default = self.identity, cluster.identity
        if cluster.cloud == "aws":
            return Identity(aws_role_arn=own.aws_role_arn or default.aws_role_arn)
        if cluster.cloud == "gcp":
            return Identity(gcp_service_account=own.gcp_service_account or default.gcp_service_account)
        if cluster.cloud == "azure":
            return Identity(azure_client_id=own.azure_client_id or default.azure_client_id)
        return Identity()


@dataclass(frozen=True)
class SecretKey:
    """A key of the Secret a `spec.secrets` entry materialises: how sign-on names a credential."""

    name: str
    key: str
    path: JsonPath


@dataclass(frozen=True)
class GitHubOrg:
    name: str
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitHub:
    client_id: str
    client_secret: SecretKey
    orgs: tuple[GitHubOrg, ...] = ()
    host_name: str | None = None


@dataclass(frozen=True)
class Oidc:
    issuer: str
    client_id: str
    client_secret: SecretKey
    scopes: tuple[str, ...] = ()
    insecure_enable_groups: bool | None = None
    user_name_key: str | None = None


@dataclass(frozen=True)
class LdapUserSearch:
    base_dn: str
    username: str
    id_attr: str
    email_attr: str
    name_attr: str
    filter: str | None = None


@dataclass(frozen=True)
class LdapGroupSearch:
    base_dn: str
    user_attr: str
    group_attr: str
    name_attr: str
    filter: str | None = None


@dataclass(frozen=True)
class Ldap:
    host: str
    bind_dn: str
    bind_password: SecretKey
    user_search: LdapUserSearch
    start_tls: bool | None = None
    root_ca: SecretKey | None = None
    group_search: LdapGroupSearch | None = None


@dataclass(frozen=True)
class Saml:
    sso_url: str
    ca: SecretKey
    username_attr: str
    email_attr: str
    entity_issuer: str | None = None
    groups_attr: str | None = None


ConnectorType = t.Literal["github", "oidc", "ldap", "saml"]
CONNECTOR_TYPES: tuple[ConnectorType, ...] = ("github", "oidc", "ldap", "saml")


@dataclass(frozen=True)
class Connector:
    id: str
    display_name: str
    path: JsonPath
    types: tuple[ConnectorType, ...]  # the provider blocks declared (place: exactly one, SG271)
    github: GitHub | None = None
    oidc: Oidc | None = None
    ldap: Ldap | None = None
    saml: Saml | None = None

    def secret_keys(self) -> tuple[SecretKey, ...]:
        """Every Secret key the connector reads, in a fixed order."""
        keys: list[SecretKey | None] = [
            self.github.client_secret if self.github else None,
            self.oidc.client_secret if self.oidc else None,
            self.ldap.bind_password if self.ldap else None,
            self.ldap.root_ca if self.ldap else None,
            self.saml.ca if self.saml else None,
        ]
        return tuple(k for k in keys if k is not None)


@dataclass(frozen=True)
class ExternalIssuer:
    """spec.signOn.externalIssuer: oauth2-proxy signs users in with this OIDC provider, without Dex."""

    issuer: str
    client_id: str
    client_secret: SecretKey
    display_name: str
    path: JsonPath
    scopes: tuple[str, ...] = ("openid", "profile", "email")


@dataclass(frozen=True)
class SignOn:
    connectors: tuple[Connector, ...]
    path: JsonPath
    external_issuer: ExternalIssuer | None = None

    @property
    def runs_dex(self) -> bool:
        """Dex runs unless oauth2-proxy signs in with an external issuer alone."""
        return self.external_issuer is None


@dataclass(frozen=True)
class GitOps:
    engine: t.Literal["argocd", "flux"]
    topology: t.Literal["standalone", "hub"]
    repo_url: str
    revision: str
    path: str


@dataclass(frozen=True)
class Upstream:
    kubeflow: str
    mode: t.Literal["remote", "vendored"]


@dataclass(frozen=True)
class Stack:
    name: str
    upstream: Upstream
    gitops: GitOps
    clusters: tuple[Cluster, ...]
    components: tuple[ComponentRequest, ...]
    datasets: tuple[Dataset, ...]
    training_jobs: tuple[TrainingJob, ...]
    models: tuple[Model, ...]
    secrets: tuple[Secret, ...]
    registry_mirror: str | None = None
    tenants: tuple[Tenant, ...] = ()
    example_profile: bool = False  # components.profiles.exampleProfile
    sign_on: SignOn | None = None

    def tenant(self, name: str) -> Tenant | None:
        return self._tenants_by_name.get(name)

    @functools.cached_property
    def _tenants_by_name(self) -> dict[str, Tenant]:
        return {tenant.name: tenant for tenant in self.tenants}

    def cluster(self, name: str) -> Cluster:
        return self._clusters_by_name[name]

    @functools.cached_property
    def _clusters_by_name(self) -> dict[str, Cluster]:
        return {c.name: c for c in self.clusters}

    def secrets_named(self, name: str) -> tuple[Secret, ...]:
        """The secrets of that name, in any namespace (an index: looked up once per cluster)."""
        return self._secrets_by_name.get(name, ())

    @functools.cached_property
    def _secrets_by_name(self) -> dict[str, tuple[Secret, ...]]:
        index: dict[str, list[Secret]] = {}
        for secret in self.secrets:
            index.setdefault(secret.name, []).append(secret)
        return {name: tuple(found) for name, found in index.items()}

    def dataset(self, name: str) -> Dataset:
        return self._datasets_by_name[name]

    @functools.cached_property
    def _datasets_by_name(self) -> dict[str, Dataset]:
        return {d.name: d for d in self.datasets}


Tree = t.Mapping[str, t.Any]


def build_model(tree: Tree) -> Stack:
    """Turn a tree that passed `validate` into a `Stack`. Undefined on invalid trees."""
    spec = tree["spec"]
    waves = releases.assign(spec)
    return Stack(
        name=tree["metadata"]["name"],
        upstream=_upstream(spec.get("upstream", {})),
        gitops=_gitops(spec["gitops"]),
        clusters=tuple(_in_wave(_cluster(c, ("spec", "clusters", i)), waves) for i, c in enumerate(spec["clusters"])),
        components=tuple(
            ComponentRequest(name, tuple(value["runsOn"]), ("spec", "components", name))
            for name, value in spec.get("components", {}).items()
        ),
        datasets=tuple(_dataset(d, ("spec", "datasets", i)) for i, d in enumerate(spec.get("datasets", []))),
        training_jobs=tuple(_job(j, ("spec", "trainingJobs", i)) for i, j in enumerate(spec.get("trainingJobs", []))),
        models=tuple(_model(m, ("spec", "models", i)) for i, m in enumerate(spec.get("models", []))),
        secrets=tuple(_secret(s, ("spec", "secrets", i)) for i, s in enumerate(spec.get("secrets", []))),
        registry_mirror=spec.get("registry", {}).get("mirror"),
        tenants=tuple(_tenant(x, ("spec", "tenants", i)) for i, x in enumerate(spec.get("tenants", []))),
        example_profile=bool(spec.get("components", {}).get("profiles", {}).get("exampleProfile", False)),
        sign_on=_sign_on(spec["signOn"], ("spec", "signOn")) if "signOn" in spec else None,
    )


def _upstream(raw: Tree) -> Upstream:
    return Upstream(kubeflow=str(raw.get("kubeflow", catalog.DEFAULT_RELEASE)), mode=raw.get("mode", "remote"))


def _gitops(raw: Tree) -> GitOps:
    return GitOps(
        engine=raw["engine"],
        topology=raw.get("topology", "standalone"),
        repo_url=raw["repoURL"],
        revision=raw.get("revision", "main"),
        path=raw.get("path", "overlays").strip("/"),
    )


def _in_wave(cluster: Cluster, waves: t.Mapping[str, releases.WaveAssignment]) -> Cluster:
    wave = waves.get(cluster.name)
    if wave is None:
        return cluster
    return dataclasses.replace(cluster, wave=wave.wave, release=wave.release, revision=wave.revision)


def _cluster(raw: Tree, path: JsonPath) -> Cluster:
    gpu = raw.get("gpu")
    identity = raw.get("identity", {})
    return Cluster(
        name=raw["name"],
        cloud=raw["cloud"],
        region=raw["region"],
        kubernetes_version=raw["kubernetesVersion"],
        roles=tuple(raw["roles"]),
        storage_class=raw.get("storageClass", DEFAULT_STORAGE_CLASS[raw["cloud"]]),
        path=path,
        server=raw.get("server"),
        gpu=Gpu(gpu["vendor"], gpu["type"], gpu.get("count")) if gpu else None,
        identity=Identity(
            aws_role_arn=identity.get("awsRoleArn"),
            gcp_service_account=identity.get("gcpServiceAccount"),
            azure_client_id=identity.get("azureClientId"),
            azure_tenant_id=identity.get("azureTenantId"),
        ),
        oidc_issuer=raw.get("oidcIssuer"),
        ingress_host=raw.get("ingressHost"),
        s3_endpoint=raw.get("s3Endpoint"),
        s3_credentials=raw.get("s3Credentials"),
        database=_database(raw["database"]) if "database" in raw else None,
        object_store=_object_store(raw["objectStore"]) if "objectStore" in raw else None,
        provides=tuple(raw.get("provides", ())),
        tls=_tls(raw["tls"], path + ("tls",)) if "tls" in raw else None,
    )


def _object_store(raw: Tree) -> ObjectStore:
    return ObjectStore(bucket=raw["bucket"], credentials=raw["credentials"], endpoint=raw.get("endpoint"), region=raw.get("region"))


def _database(raw: Tree) -> Database:
    return Database(host=raw["host"], credentials=raw["credentials"], port=raw.get("port", DEFAULT_DATABASE_PORT))


def _tenant(raw: Tree, path: JsonPath) -> Tenant:
    identity = raw.get("identity", {})
    return Tenant(
        name=raw["name"],
        owner=raw["owner"],
        path=path,
        contributors=tuple(Contributor(c["user"], c.get("role", "edit")) for c in raw.get("contributors", [])),
        resource_quota=tuple(sorted((key, str(value)) for key, value in raw.get("resourceQuota", {}).items())),
        clusters=tuple(raw["clusters"]) if "clusters" in raw else None,
        identity=Identity(
            aws_role_arn=identity.get("awsRoleArn"),
            gcp_service_account=identity.get("gcpServiceAccount"),
            azure_client_id=identity.get("azureClientId"),
        ),
    )


def _tls(raw: Tree, path: JsonPath) -> Tls:
    acme = raw.get("acme")
    return Tls(path=path, cluster_issuer=raw.get("clusterIssuer"), acme=_acme(acme, path + ("acme",)) if acme is not None else None)


def _acme(raw: Tree, path: JsonPath) -> Acme:
    azure = raw.get("azureDNS")
    return Acme(
        email=raw["email"],
        server=raw["server"],
        path=path,
        solvers=tuple(k for k in _DNS_SOLVERS if k in raw),
        route53=Route53(raw["route53"].get("hostedZoneID")) if "route53" in raw else None,
        cloud_dns=CloudDns(raw["cloudDNS"].get("project")) if "cloudDNS" in raw else None,
        azure_dns=AzureDns(azure["subscriptionID"], azure["resourceGroupName"], azure.get("hostedZoneName")) if azure else None,
    )


def _sign_on(raw: Tree, path: JsonPath) -> SignOn:
    external = raw.get("externalIssuer")
    return SignOn(
        tuple(_connector(c, path + ("connectors", i)) for i, c in enumerate(raw.get("connectors", ()))),
        path,
        _external_issuer(external, path + ("externalIssuer",)) if external is not None else None,
    )


def _external_issuer(raw: Tree, path: JsonPath) -> ExternalIssuer:
    return ExternalIssuer(
        issuer=raw["issuer"],
        client_id=raw["clientID"],
        client_secret=_secret_key(raw["clientSecretRef"], path + ("clientSecretRef",)),
        display_name=raw["displayName"],
        path=path,
        scopes=tuple(raw.get("scopes", ExternalIssuer.scopes)),
    )


def _secret_key(raw: Tree, path: JsonPath) -> SecretKey:
    return SecretKey(raw["name"], raw["key"], path)


def _connector(raw: Tree, path: JsonPath) -> Connector:
    github, oidc, ldap, saml = (raw.get(k) for k in CONNECTOR_TYPES)
    return Connector(
        id=raw["id"],
        display_name=raw["displayName"],
        path=path,
        types=tuple(k for k in CONNECTOR_TYPES if k in raw),
        github=GitHub(github["clientID"], _secret_key(github["clientSecretRef"], path + ("github", "clientSecretRef")),
                      tuple(GitHubOrg(o["org"], tuple(o.get("teams", ()))) for o in github.get("orgs", ())),
                      github.get("hostName")) if github else None,
        oidc=Oidc(oidc["issuer"], oidc["clientID"], _secret_key(oidc["clientSecretRef"], path + ("oidc", "clientSecretRef")),
                  tuple(oidc.get("scopes", ())), oidc.get("insecureEnableGroups"), oidc.get("userNameKey")) if oidc else None,
        ldap=_ldap(ldap, path + ("ldap",)) if ldap else None,
        saml=Saml(saml["ssoURL"], _secret_key(saml["caRef"], path + ("saml", "caRef")), saml["usernameAttr"], saml["emailAttr"],
                  saml.get("entityIssuer"), saml.get("groupsAttr")) if saml else None,
    )


def _ldap(raw: Tree, path: JsonPath) -> Ldap:
    users, groups = raw["userSearch"], raw.get("groupSearch")
    return Ldap(
        host=raw["host"],
        bind_dn=raw["bindDN"],
        bind_password=_secret_key(raw["bindPasswordRef"], path + ("bindPasswordRef",)),
        user_search=LdapUserSearch(users["baseDN"], users["username"], users["idAttr"], users["emailAttr"], users["nameAttr"], users.get("filter")),
        start_tls=raw.get("startTLS"),
        root_ca=_secret_key(raw["rootCARef"], path + ("rootCARef",)) if "rootCARef" in raw else None,
        group_search=LdapGroupSearch(groups["baseDN"], groups["userAttr"], groups["groupAttr"], groups["nameAttr"],
                                     groups.get("filter")) if groups else None,
    )


def _dataset(raw: Tree, path: JsonPath) -> Dataset:
    return Dataset(name=raw["name"], uri=raw["uri"], cluster=raw["cluster"], path=path, size=raw.get("size"))


def _job(raw: Tree, path: JsonPath) -> TrainingJob:
    return TrainingJob(
        name=raw["name"],
        dataset=raw["dataset"],
        image=raw["image"],
        workers=raw.get("workers", 1),
        gpus_per_worker=raw.get("gpusPerWorker", 0),
        namespace=raw.get("namespace", DEFAULT_NAMESPACE),
        runtime=raw.get("runtime", DEFAULT_RUNTIME),
        path=path,
    )


def _model(raw: Tree, path: JsonPath) -> Model:
    return Model(
        name=raw["name"],
        storage_uri=raw["storageUri"],
        format=raw["format"],
        serve_on=tuple(raw["serveOn"]),
        replicas=raw.get("replicas", 1),
        namespace=raw.get("namespace", DEFAULT_NAMESPACE),
        path=path,
        gpus=raw.get("gpus", 0),
    )


def _secret(raw: Tree, path: JsonPath) -> Secret:
    auth = raw.get("auth", {}).get("secretRef")
    return Secret(
        name=raw["name"],
        namespace=raw.get("namespace", DEFAULT_NAMESPACE),
        store=raw["store"],
        key=raw["key"],
        path=path,
        runs_on=tuple(raw["runsOn"]) if "runsOn" in raw else None,
        auth=SecretRef(auth["name"], auth.get("namespace"), auth.get("key")) if auth else None,
        value_as=raw.get("valueAs"),
    )
