"""place: decide what runs on which cluster, and record why.

Components go where their `runsOn` selects (a role or a cluster name) and bring what they need;
a training job goes to the cluster that holds its dataset (data does not move) and brings
trainer; a model goes to every cluster its `serveOn` selects and brings kserve; a secret goes
where its `runsOn` says, or else to the clusters that run workloads in its namespace on the
secret store's own cloud. Edge clusters take only core KServe and what it cannot run without.

Every rule of where things land lives here, on the typed model, and so do the findings that
follow from it (validate checks only shape and references, on the raw tree):
    SG204 training job whose dataset is on a cluster without `training` (the job is not placed)
    SG205 model whose `serveOn` selects no cluster
    SG207 secret that needs `auth.secretRef` to reach its store from where it lands
    SG208 secret that lands on no cluster (warning)
    SG211 two secrets (or a secret and a default credential) that become one file
    SG280 an external database or object store whose credentials name no spec.secrets entry (or several)
    SG281 an external database or object store on a cluster that runs nothing using it (warning)
    SG282 a provided foundation nothing on the cluster uses (warning)
    SG283 a component requested on a cluster that provides it as a foundation
    SG284 a declared default credential that the external database or object store replaces
    SG285 an object store Pipelines cannot read through the S3 API from its cluster
    SG261 tenant whose `clusters` selects a cluster that does not run `profiles`
    SG262 tenant identity for a cloud none of the tenant's clusters runs on
    SG263 tenant that lands on no cluster
    SG264 tenant that lists its owner as a contributor
    SG265 tenant on a cluster that runs `profiles` without `istio`
    SG415 workload in a tenant's namespace on a cluster the tenant does not land on

A tenant lands on every cluster its `clusters` selects (default: every cluster that runs
`profiles`), and there becomes a Profile whose namespace the profile controller creates: so
stackgen creates no Namespace for it, and its workloads run as the profile's `default-editor`.
    SG270-SG274, SG420-SG422 sign-on (spec.signOn): its secrets, providers, ids, callback host
    SG275-SG279 TLS on the gateway (clusters[].tls): host, gateway, ACME solver and identity
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t
from dataclasses import dataclass

from stackgen import catalog, storage
from stackgen.compile import stores
from stackgen.compile.signon import OAUTH2_PROXY_NAMESPACE
from stackgen.diagnostics import Finding, JsonPath
from stackgen.model import STORE_CLOUD, Cluster, Identity, Model, Secret, SecretKey, Stack, Tenant, TrainingJob


@dataclass(frozen=True)
class PlacedComponent:
    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ClusterPlan:
    cluster: Cluster
    components: tuple[PlacedComponent, ...]
    training_jobs: tuple[TrainingJob, ...]
    models: tuple[Model, ...]
    secrets: tuple[Secret, ...]
    # References that replace upstream's default credentials (declared, or the cloud's default).
    credentials: tuple[Secret, ...] = ()
    # Tenants that land here: each a Profile, whose namespace the profile controller creates.
    tenants: tuple[Tenant, ...] = ()
    # The secrets Dex's connectors read (spec.signOn), delivered in the auth unit.
    sign_on_secrets: tuple[Secret, ...] = ()

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Namespaces stackgen creates here: those its workloads and secrets use, but tenants'
        (the profile controller creates those, and refuses one that exists already)."""
        used = {j.namespace for j in self.training_jobs} | {m.namespace for m in self.models}
        used |= {s.namespace for s in self.secrets}
        return tuple(sorted(used - set(self.tenant_namespaces)))

    @property
    def tenant_namespaces(self) -> tuple[str, ...]:
        return tuple(sorted(t.name for t in self.tenants))

    def tenant_of(self, namespace: str) -> Tenant | None:
        """The tenant whose Profile owns `namespace` on this cluster, if one does."""
        return self._tenants_by_name.get(namespace)

    @functools.cached_property
    def _tenants_by_name(self) -> dict[str, Tenant]:
        return {tenant.name: tenant for tenant in self.tenants}

    def identity_in(self, namespace: str) -> Identity:
        """The cloud identity workloads in `namespace` run with here: the tenant's, else the cluster's."""
        tenant = self.tenant_of(namespace)
        return tenant.identity_on(self.cluster) if tenant else self.cluster.identity


@dataclass(frozen=True)
class Placement:
    plans: tuple[ClusterPlan, ...]
    findings: tuple[Finding, ...]

    def plan(self, cluster: str) -> ClusterPlan:
        return next(p for p in self.plans if p.cluster.name == cluster)


def selects(selectors: t.Collection[str], cluster: Cluster) -> bool:
    # Membership, not a Python loop: a secret's runsOn may list every cluster of a cloud, and
    # each of those clusters asks (issue 19).
    return cluster.name in selectors or any(role in selectors for role in cluster.roles)


def _why_selected(selectors: t.Iterable[str], cluster: Cluster) -> str:
    hits = [s for s in selectors if s == cluster.name or s in cluster.roles]
    return ", ".join(f"cluster `{s}`" if s == cluster.name else f"role `{s}`" for s in hits)


_Item = t.TypeVar("_Item")


@dataclass(frozen=True)
class _Candidates(t.Generic[_Item]):
    """Which items a cluster could select, by the names and roles their selectors list.

    A fleet has thousands of clusters and hundreds of models and secrets: matching every pair
    is quadratic. The index only narrows the candidates; `selects` and `_secret_lands` still
    decide, so each rule keeps one home.
    """

    items: tuple[_Item, ...]
    by_selector: t.Mapping[str, tuple[int, ...]]
    always: tuple[int, ...] = ()

    @classmethod
    def of(cls, items: t.Sequence[_Item], selectors: t.Callable[[_Item], t.Iterable[str] | None]) -> _Candidates[_Item]:
        index: dict[str, list[int]] = {}
        unselected: list[int] = []
        for position, item in enumerate(items):
            chosen = selectors(item)
            if chosen is None:
                unselected.append(position)
                continue
            for selector in set(chosen):
                index.setdefault(selector, []).append(position)
        return cls(tuple(items), {k: tuple(v) for k, v in index.items()}, tuple(unselected))

    def near(self, cluster: Cluster) -> tuple[_Item, ...]:
        """Items whose selectors name this cluster or one of its roles, and those without selectors, in stack order."""
        positions = set(self.always)
        for key in (cluster.name, *cluster.roles):
            positions.update(self.by_selector.get(key, ()))
        return tuple(self.items[p] for p in sorted(positions))


def place(stack: Stack) -> Placement:
    findings: list[Finding] = _secret_file_findings(stack.secrets)
    jobs_by_cluster = _jobs_by_cluster(stack, findings)
    models = _Candidates.of(stack.models, lambda m: m.serve_on)
    secrets = _Candidates.of(stack.secrets, lambda s: s.runs_on)
    tenants = _Candidates.of(stack.tenants, lambda x: x.clusters)
    landings: dict[JsonPath, list[Cluster]] = {}  # secret -> the clusters it lands on, filled by each plan
    sign_on = _SignOnReads.of(stack)  # once for the fleet: each cluster only looks up
    plans = tuple(
        _plan_cluster(stack, cluster, tuple(jobs_by_cluster.get(cluster.name, ())), models, secrets, tenants, findings, landings, sign_on)
        for cluster in sorted(stack.clusters, key=lambda c: c.name)
    )
    findings += _tenant_findings(stack, plans, {f.path[:3] for f in findings if f.code in ("SG261", "SG265")})
    served = {m.path for plan in plans for m in plan.models}
    findings += [Finding(m.path + ("serveOn",), "SG205", f"model `{m.name}` is served nowhere: serveOn matches no cluster")
                 for m in stack.models if m.path not in served]
    # A database login lands, under other names, where its cluster's database is used.
    logins = {c.database.credentials for c in stack.clusters if c.database} | {
        c.object_store.credentials for c in stack.clusters if c.object_store}
    for secret in stack.secrets:
        findings += _secret_findings(secret, landings.get(secret.path, []), secret.name in logins)
    findings += _sign_on_findings(stack, plans)
    return Placement(plans, tuple(findings))


def _jobs_by_cluster(stack: Stack, findings: list[Finding]) -> dict[str, list[TrainingJob]]:
    """A job runs where its dataset lives (data does not move), and only on a training cluster:
    elsewhere it is refused (SG204) and placed nowhere. Indexed once: a fleet has thousands of clusters."""
    home = {d.name: d.cluster for d in stack.datasets}
    roles = {c.name: c.roles for c in stack.clusters}
    trainers = sorted(c.name for c in stack.clusters if "training" in c.roles)
    jobs_by_cluster: dict[str, list[TrainingJob]] = {}
    for job in stack.training_jobs:
        cluster = home[job.dataset]
        if "training" in roles[cluster]:
            jobs_by_cluster.setdefault(cluster, []).append(job)
            continue
        hint = f"clusters that could hold it: {', '.join(trainers)}" if trainers else "no cluster has the `training` role"
        findings.append(Finding(
            job.path + ("dataset",), "SG204",
            f"training job `{job.name}` would run on `{cluster}` (where dataset `{job.dataset}` lives), "
            "which lacks the `training` role; data does not move, so the job cannot run",
            hint=hint + f"; or give `{cluster}` the training role",
        ))
    return jobs_by_cluster


def _plan_cluster(stack: Stack, cluster: Cluster, jobs: tuple[TrainingJob, ...], model_index: _Candidates[Model],
                  secret_index: _Candidates[Secret], tenant_index: _Candidates[Tenant], findings: list[Finding],
                  landings: dict[JsonPath, list[Cluster]], sign_on: _SignOnReads) -> ClusterPlan:
    models = tuple(m for m in model_index.near(cluster) if selects(m.serve_on, cluster))
    requested = _requested(stack, cluster, jobs, models, findings)
    needed_by = catalog.closure(requested, cluster.is_edge)
    components = tuple(
        PlacedComponent(name, requested.get(name, ()) + tuple(f"needed by {user}" for user in needed_by[name]))
        for name in catalog.dependency_order(needed_by, cluster.is_edge)
    )
    if cluster.cloud == "aws" and "auth" in needed_by and not cluster.oidc_issuer:
        findings.append(
            Finding(
                cluster.path,
                "SG401",
                f"cluster `{cluster.name}` runs auth on EKS (needed by {', '.join(needed_by['auth'])}), "
                "which needs the cluster's OIDC issuer",
                hint="add `oidcIssuer: https://oidc.eks.<region>.amazonaws.com/id/<ID>` "
                "(aws eks describe-cluster --query cluster.identity.oidc.issuer)",
            )
        )
    findings.extend(_job_findings(stack, jobs))
    tenants = _tenants_here(tenant_index.near(cluster), cluster, "profiles" in needed_by, "istio" in needed_by, findings)
    findings.extend(_tenant_workload_findings(stack, cluster, tenants, jobs, models))
    findings.extend(_storage_findings(stack, cluster, jobs, models, tenants))
    findings.extend(_tls_findings(cluster, needed_by))
    workload_namespaces = {j.namespace for j in jobs} | {m.namespace for m in models}
    shipped = {(c.namespace, c.name): c for name in needed_by for c in catalog.default_credentials(name)}
    signs_on = stack.sign_on is not None and "auth" in needed_by
    if signs_on:
        assert stack.sign_on is not None
        # The static user is off: its password hash is deleted and not replaced. Without Dex,
        # neither is Dex's client (oauth2-proxy signs in with the external issuer).
        shipped.pop(catalog.STATIC_USER_CREDENTIAL, None)
        if not stack.sign_on.runs_dex:
            for key in [k for k in shipped if k[0] == catalog.DEX_NAMESPACE]:
                del shipped[key]
        if not cluster.ingress_host:
            who, path = ("Dex with the connectors of spec.signOn", "/dex/callback") if stack.sign_on.runs_dex else \
                ("oauth2-proxy with spec.signOn.externalIssuer", "/oauth2/callback")
            findings.append(Finding(cluster.path, "SG273", f"cluster `{cluster.name}` runs {who}, whose providers send the browser back "
                                    f"to https://<ingressHost>{path}, but it has no `ingressHost`",
                                    hint=f"add `ingressHost: kubeflow.<your domain>` and register its {path} with each provider"))
        elif cluster.tls is None:
            # Browsers carry the session cookie and the provider's code over it; Entra ID and
            # Okta accept https redirect URIs only (localhost aside).
            findings.append(Finding(cluster.path, "SG422", f"cluster `{cluster.name}` signs users in through http://{cluster.ingress_host}: "
                                    "without `tls` the callback and the session cookie travel in clear text, and many providers refuse "
                                    "an http redirect URI", hint="add `tls: {clusterIssuer: ...}` or `tls: {acme: ...}`", severity="warning"))
    sign_on_reads = sign_on.keys if signs_on else frozenset()
    landed = [s for s in secret_index.near(cluster) if _secret_lands(s, cluster, workload_namespaces, shipped.keys() | sign_on_reads)]
    for secret in landed:
        landings.setdefault(secret.path, []).append(cluster)
        if not _reaches_store(secret, cluster):
            continue  # SG207 says so; how its store is addressed is judged once it can reach it
        try:
            stores.store_for(secret, cluster)
        except stores.StoreProblem as problem:
            findings.append(Finding(secret.path + ("key",), "SG406", str(problem), hint=problem.hint))
    secrets = tuple(s for s in landed if (s.namespace, s.name) not in shipped and (s.namespace, s.name) not in sign_on_reads)
    findings.extend(_s3_findings(cluster, workload_namespaces, secrets))
    declared = [s for s in landed if (s.namespace, s.name) in shipped]
    external = _external_credentials(stack, cluster, needed_by, declared, findings)
    credentials = _credentials(stack, cluster, declared, {k: c for k, c in shipped.items() if k not in external}, findings)
    credentials = tuple(sorted((*credentials, *external.values()), key=lambda s: (s.namespace, s.name)))
    sign_on_secrets = tuple(s for s in landed if (s.namespace, s.name) in sign_on_reads)
    if signs_on:
        findings.extend(_unreached_sign_on(sign_on, cluster, sign_on_secrets))
    findings.extend(_foundation_findings(stack, cluster, needed_by, bool(secrets or credentials or sign_on_secrets)))
    return ClusterPlan(cluster, components, jobs, models, secrets, credentials, tenants, sign_on_secrets)


def _external_credentials(stack: Stack, cluster: Cluster, needed_by: t.Mapping[str, t.Any], declared: t.Sequence[Secret],
                          findings: list[Finding]) -> dict[tuple[str, str], Secret]:
    """With `database` (or `objectStore`), the Secrets Pipelines, Katib and Model Registry read
    their MySQL login (or Pipelines its object-store keys) from are filled from the one secret
    the declaration names, each under the keys its pods read, instead of upstream's defaults."""
    filled: dict[tuple[str, str], Secret] = {}
    if cluster.database is not None:
        users = [(u.secret, u.keys) for name in sorted(needed_by) if (u := catalog.DATABASE_USERS.get(name))]
        filled |= _filled(stack, cluster, "database", cluster.database.credentials, users, declared, findings,
                          "pipelines, katib and model-registry", "JSON with `username` and `password`")
    if cluster.object_store is not None:
        users = [(catalog.OBJECT_STORE_SECRET, catalog.OBJECT_STORE_KEYS)] if "pipelines" in needed_by else []
        filled |= _filled(stack, cluster, "objectStore", cluster.object_store.credentials, users, declared, findings,
                          "pipelines", "JSON with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`")
        if users:
            try:
                storage.s3_api(cluster.object_store, cluster)
            except storage.NoS3Api as problem:
                findings.append(Finding(cluster.path + ("objectStore",), "SG285", str(problem), hint=problem.hint))
    return filled


def _filled(stack: Stack, cluster: Cluster, field: str, login: str, users: t.Sequence[tuple[str, tuple[tuple[str, str], ...]]],
            declared: t.Sequence[Secret], findings: list[Finding], components: str, shape: str) -> dict[tuple[str, str], Secret]:
    """The references that replace the default credentials `users` names, from secret `login`."""
    path = cluster.path + (field,)
    what = "external database" if field == "database" else "external object store"
    if not users:
        findings.append(Finding(path, "SG281", f"cluster `{cluster.name}` declares an {what}, but runs none of {components}: "
                                "nothing uses it", severity="warning", hint=f"remove `{field}`, or run a component that uses it here"))
        return {}
    named = stack.secrets_named(login)
    if len(named) != 1:
        found = "no spec.secrets entry" if not named else f"{len(named)} spec.secrets entries ({', '.join(f'{s.namespace}/{s.name}' for s in named)})"
        findings.append(Finding(path + ("credentials",), "SG280", f"the {what} of cluster `{cluster.name}` takes its login "
                                f"from secret `{login}`, which names {found}",
                                hint=f"declare exactly one secret of that name under spec.secrets; its remote value is {shape}"))
        return {}
    reference = named[0]
    if not _reaches_store(reference, cluster):
        findings.append(Finding(reference.path, "SG207", f"secret `{reference.name}` (the {what} login of cluster `{cluster.name}`) "
                                f"cannot reach {reference.store} from there by workload identity: it needs a credentials reference "
                                "(`auth.secretRef`)", hint=_AUTH_HINT))
        return {}
    try:
        stores.store_for(reference, cluster)
    except stores.StoreProblem as problem:
        findings.append(Finding(reference.path + ("key",), "SG406", str(problem), hint=problem.hint))
        return {}
    replaced = {name for name, _ in users}
    for secret in declared:
        if secret.name in replaced and secret.namespace == "kubeflow":
            findings.append(Finding(secret.path + ("name",), "SG284", f"secret `{secret.namespace}/{secret.name}` replaces a default "
                                    f"credential that cluster `{cluster.name}` fills from its {what}'s `{login}`",
                                    hint=f"remove it, or set its runsOn so it does not land on `{cluster.name}`"))
    return {("kubeflow", name): dataclasses.replace(reference, name=name, namespace="kubeflow", runs_on=None, value_as=None, properties=keys)
            for name, keys in users}


def _foundation_findings(stack: Stack, cluster: Cluster, needed_by: t.Mapping[str, t.Any], stores_used: bool) -> list[Finding]:
    """SG283: a component `components:` asks for that the cluster provides itself; SG282: a
    provided foundation nothing here uses (it changes nothing, so it is likely a mistake)."""
    found = []
    for index, foundation in enumerate(cluster.provides):
        path = cluster.path + ("provides", index)
        request = next((r for r in stack.components if r.name == foundation and selects(r.runs_on, cluster)), None)
        if request is not None:
            found.append(Finding(request.path + ("runsOn",), "SG283", f"component `{foundation}` is asked to run on cluster "
                                 f"`{cluster.name}`, which provides it itself (`provides`): stackgen would install none",
                                 hint=f"leave `{cluster.name}` out of components.{foundation}.runsOn, or drop it from `provides`"))
            continue
        used = {
            "istio": "istio" in needed_by,
            "cert-manager": "cert-manager" in needed_by,
            "gpu-operator": cluster.gpu is not None,
            "external-secrets": stores_used,
        }[foundation]
        if not used:
            found.append(Finding(path, "SG282", f"cluster `{cluster.name}` provides {foundation}, which nothing stackgen deploys there uses",
                                 severity="warning", hint=f"remove `{foundation}` from provides"))
    return found


def _tenants_here(candidates: t.Sequence[Tenant], cluster: Cluster, runs_profiles: bool, mesh: bool,
                  findings: list[Finding]) -> tuple[Tenant, ...]:
    """The tenants that land on `cluster`: those its `clusters` selects (default: all), where it
    runs `profiles`. A tenant that names a cluster without `profiles` is refused there (SG261):
    without the profile controller a Profile never becomes a namespace."""
    landed = []
    for tenant in candidates:  # those whose selectors name this cluster or its roles, and those without
        if tenant.clusters is not None and not selects(tenant.clusters, cluster):
            continue
        if runs_profiles and not mesh:
            findings.append(Finding(
                tenant.path + ("clusters",) if tenant.clusters is not None else tenant.path + ("name",), "SG265",
                f"tenant `{tenant.name}` lands on cluster `{cluster.name}`, which runs `profiles` without `istio`: the profile "
                "controller watches and writes Istio AuthorizationPolicies, so without Istio's CRDs it never creates the namespace's accounts",
                hint=f"run a component that brings istio on `{cluster.name}` (pipelines, notebooks, kserve...), or narrow `clusters`"))
        elif runs_profiles:
            landed.append(tenant)
        elif tenant.clusters is not None:
            findings.append(Finding(
                tenant.path + ("clusters",), "SG261",
                f"tenant `{tenant.name}` selects cluster `{cluster.name}` ({_why_selected(tenant.clusters, cluster)}), which does not run "
                "`profiles`: without the profile controller its Profile never becomes a namespace",
                hint=f"add `{cluster.name}` to components.profiles.runsOn (or a component that brings profiles), or narrow `clusters`"))
    return tuple(landed)


def _tenant_workload_findings(stack: Stack, cluster: Cluster, tenants: t.Sequence[Tenant], jobs: t.Sequence[TrainingJob],
                              models: t.Sequence[Model]) -> list[Finding]:
    """SG415: a workload whose namespace is a tenant's runs in that tenant's Profile namespace, so
    the tenant must land where the workload does (stackgen does not create a Profile's namespace)."""
    here = {tenant.name for tenant in tenants}
    found = []
    workloads = [(j.path, f"training job `{j.name}`", j.namespace) for j in jobs]
    workloads += [(m.path, f"model `{m.name}`", m.namespace) for m in models]
    for path, subject, namespace in workloads:
        tenant = stack.tenant(namespace)
        if tenant is None or namespace in here:
            continue
        found.append(Finding(
            path + ("namespace",), "SG415",
            f"{subject} runs in namespace `{namespace}` of tenant `{namespace}` on cluster `{cluster.name}`, where that tenant "
            "does not land: its namespace would never exist there",
            hint=f"add `{cluster.name}` to the tenant's `clusters` (it must run `profiles`), or run the workload elsewhere"))
    return found


_CLOUD_NAMES = {"aws": "an AWS", "gcp": "a GCP", "azure": "an Azure"}


def _tenant_findings(stack: Stack, plans: t.Sequence[ClusterPlan], refused: t.Collection[JsonPath]) -> list[Finding]:
    """SG263 (a tenant that lands nowhere, unless it was refused somewhere: SG261, SG265), SG262 (an identity for a cloud none of its clusters
    runs on: it would change nothing) and SG264 (the owner listed as a contributor too)."""
    clouds: dict[str, set[str]] = {}
    for plan in plans:
        for tenant in plan.tenants:
            clouds.setdefault(tenant.name, set()).add(plan.cluster.cloud)
    found = []
    fields = (("awsRoleArn", "aws", "aws_role_arn"), ("gcpServiceAccount", "gcp", "gcp_service_account"),
              ("azureClientId", "azure", "azure_client_id"))
    for tenant in stack.tenants:
        landed = clouds.get(tenant.name)
        if not landed and tenant.path not in refused:
            where = "none of the clusters its `clusters` selects" if tenant.clusters is not None else "no cluster"
            found.append(Finding(tenant.path + (("clusters",) if tenant.clusters is not None else ("name",)), "SG263",
                                 f"tenant `{tenant.name}` lands on no cluster: `profiles` runs on {where}",
                                 hint="run `profiles` there (components.profiles.runsOn) or select other clusters"))
        for key, cloud, attribute in fields:
            if landed and getattr(tenant.identity, attribute) and cloud not in landed:
                found.append(Finding(tenant.path + ("identity", key), "SG262",
                                     f"`{key}` is {_CLOUD_NAMES[cloud]} identity, but tenant `{tenant.name}` lands only on "
                                     f"{', '.join(sorted(landed))} clusters: it would change nothing",
                                     hint=f"remove it, or let the tenant land on {_CLOUD_NAMES[cloud]} cluster"))
        for index, contributor in enumerate(tenant.contributors):
            if contributor.user == tenant.owner:
                found.append(Finding(tenant.path + ("contributors", index, "user"), "SG264",
                                     f"`{contributor.user}` owns tenant `{tenant.name}` (admin of its namespace) and is listed as a contributor too",
                                     hint="remove the contributor entry"))
    return found


def _storage_findings(stack: Stack, cluster: Cluster, jobs: t.Sequence[TrainingJob], models: t.Sequence[Model],
                      tenants: t.Sequence[Tenant] = ()) -> list[Finding]:
    """SG409 (nothing the pods hold reaches the store) and SG410 (only the node's identity, or
    anonymous access, does) for each dataset trained on and each model served on this cluster.
    A workload in a tenant's namespace reads with that tenant's identity (its `default-editor`)."""
    by_name = {tenant.name: tenant for tenant in tenants}

    def tenant(namespace: str) -> Tenant | None:
        return by_name.get(namespace)

    datasets = dict.fromkeys((stack.dataset(j.dataset), tenant(j.namespace)) for j in jobs)
    reads = [(d.path + ("uri",), f"dataset `{d.name}`", "trained on", d.uri, who) for d, who in datasets]
    reads += [(m.path + ("storageUri",), f"model `{m.name}`", "served on", m.storage_uri, tenant(m.namespace)) for m in models]
    findings = []
    for path, subject, verb, uri, who in reads:
        gap = storage.gap(uri, cluster, who.identity_on(cluster) if who else None, who.name if who else None)
        if gap is not None:
            findings.append(Finding(path, "SG409" if gap.severity == "error" else "SG410",
                                    f"{subject} is {verb} cluster `{cluster.name}` from {uri}, but {gap.reason}",
                                    hint=gap.hint, severity=gap.severity))
    return findings


def _s3_findings(cluster: Cluster, namespaces: t.Collection[str], secrets: t.Sequence[Secret]) -> list[Finding]:
    """SG408: an S3-compatible endpoint's keys must reach every namespace of the cluster's workloads.

    KServe's storage initializer reads S3 keys from the Secrets listed on the predictor's
    service account (annotations on the account count only with an IRSA role), and training
    jobs read them from their environment: the secret `s3Credentials` names must reach them.
    """
    # Without `s3Credentials` the endpoint is read anonymously (a store may allow that):
    # `stackgen explain cluster/<name>` says so rather than a warning on every build.
    if not cluster.s3_endpoint or not cluster.s3_credentials or not namespaces:
        return []
    landed = {s.namespace for s in secrets if s.name == cluster.s3_credentials}
    return [Finding(cluster.path + ("s3Credentials",), "SG408",
                    f"secret `{cluster.s3_credentials}` does not reach namespace `{namespace}` of cluster `{cluster.name}`, whose workloads read {cluster.s3_endpoint}",
                    hint=f"declare it under spec.secrets with namespace {namespace} (and runsOn [{cluster.name}] where its store is not this cloud's)")
            for namespace in sorted(set(namespaces) - landed)]


def _credentials(stack: Stack, cluster: Cluster, declared: list[Secret], shipped: t.Mapping[tuple[str, str], catalog.DefaultCredential],
                 findings: list[Finding]) -> tuple[Secret, ...]:
    """A reference for each default credential upstream ships to this cluster: the secret
    stack.yaml declares under its name and namespace, else one in the cluster's own cloud store."""
    references = {(s.namespace, s.name): s for s in declared}
    for key, credential in sorted(shipped.items()):
        if key in references:
            continue
        reference = _default_reference(cluster, credential)
        reason = f"{cluster.cloud} has no store stackgen can locate"
        if reference is not None:
            try:
                stores.store_for(reference, cluster)
            except stores.StoreProblem as problem:
                reason, reference = f"{problem.hint.replace('write its key as', 'its own store needs')}", None
        if reference is None:
            store = {"azure": "azure-key-vault", "gcp": "gcp-secret-manager"}.get(cluster.cloud, "vault")
            findings.append(Finding(
                _component_path(stack, credential.component, cluster), "SG407",
                f"cluster `{cluster.name}` runs {credential.component}, whose upstream Secret {credential.namespace}/{credential.name} "
                f"holds {credential.what}; stackgen replaces it with a secret-store reference, but {reason}",
                hint=f"declare it under spec.secrets: {{name: {credential.name}, namespace: {credential.namespace}, store: {store}, key: ...}}",
            ))
        else:
            references[key] = reference
    return tuple(references[key] for key in sorted(references))


def _default_reference(cluster: Cluster, credential: catalog.DefaultCredential) -> Secret | None:
    """Where a credential lives when stack.yaml does not say: the cluster's own cloud store, one per cluster."""
    parts = ("stackgen", cluster.name, credential.namespace, credential.name)
    if cluster.cloud == "aws":
        return Secret(credential.name, credential.namespace, "aws-secrets-manager", "/".join(parts), cluster.path)
    if cluster.cloud == "gcp":  # Secret Manager ids allow no `/`
        return Secret(credential.name, credential.namespace, "gcp-secret-manager", "-".join(parts), cluster.path)
    return None  # Key Vault needs its vault's name, on-prem a Vault server: stack.yaml must say


def _component_path(stack: Stack, component: str, cluster: Cluster) -> JsonPath:
    listed = next((c for c in stack.components if c.name == component), None)
    return listed.path if listed else cluster.path


def _requested(
    stack: Stack, cluster: Cluster, jobs: tuple[TrainingJob, ...], models: tuple[Model, ...], findings: list[Finding]
) -> dict[str, tuple[str, ...]]:
    requested: dict[str, list[str]] = {}
    for request in stack.components:
        if not selects(request.runs_on, cluster):
            continue
        if cluster.is_edge and request.name not in catalog.EDGE_COMPONENTS:
            findings.append(_edge_refusal(request.name, cluster, request.path + ("runsOn",)))
            continue
        requested.setdefault(request.name, []).append(f"components.{request.name}.runsOn selects {_why_selected(request.runs_on, cluster)}")
    for job in jobs:
        if cluster.is_edge:
            findings.append(_edge_refusal("trainer", cluster, job.path + ("dataset",), f"training job `{job.name}`"))
            continue
        requested.setdefault("trainer", []).append(f"training job `{job.name}` runs here, next to dataset `{job.dataset}`")
    if cluster.tls is not None:
        requested.setdefault("cert-manager", []).append(f"cluster `{cluster.name}` declares tls: cert-manager issues the gateway's certificate")
    for model in models:
        requested.setdefault("kserve", []).append(
            f"model `{model.name}` is served here (serveOn selects {_why_selected(model.serve_on, cluster)})"
        )
    return {name: tuple(reasons) for name, reasons in requested.items()}


def _job_findings(stack: Stack, jobs: tuple[TrainingJob, ...]) -> list[Finding]:
    found = []
    for job in jobs:
        if job.runtime not in catalog.TRAINING_RUNTIMES:
            found.append(
                Finding(
                    job.path + ("runtime",),
                    "SG404",
                    f"training job `{job.name}` names runtime `{job.runtime}`, which Trainer does not ship at this release",
                    hint="one of " + ", ".join(sorted(catalog.TRAINING_RUNTIMES)),
                )
            )
        dataset = stack.dataset(job.dataset)
        if dataset.uri.startswith("pvc://") and dataset.size is None:
            found.append(
                Finding(
                    dataset.path,
                    "SG405",
                    f"dataset `{dataset.name}` is a volume (pvc://) used by training job `{job.name}`: "
                    "stackgen creates its claim and needs its `size`",
                    hint="add `size: 500Gi` (a Kubernetes quantity)",
                )
            )
    return found


def _edge_refusal(component: str, cluster: Cluster, path: tuple[t.Any, ...], who: str | None = None) -> Finding:
    subject = who or f"component `{component}`"
    return Finding(
        path,
        "SG402",
        f"{subject} cannot run on edge cluster `{cluster.name}`: edge clusters run only core KServe "
        "and cert-manager (no Istio, Knative, Dex or web apps)",
        hint="select non-edge clusters by name or role",
    )


def _secret_lands(secret: Secret, cluster: Cluster, workload_namespaces: set[str], shipped: t.Collection[tuple[str, str]]) -> bool:
    """With `runsOn`, where it says; without, where workloads use its namespace, or where it
    replaces a default credential upstream ships, on the store's own cloud (Vault: any)."""
    if secret.runs_on is not None:
        return selects(secret.runs_on, cluster)
    store_cloud = STORE_CLOUD[secret.store]
    used = secret.namespace in workload_namespaces or (secret.namespace, secret.name) in shipped
    return used and store_cloud in (None, cluster.cloud)


_SHIPPED_CREDENTIALS = frozenset((c.namespace, c.name) for c in catalog.DEFAULT_CREDENTIALS)
_AUTH_HINT = "add `auth: {secretRef: {name: <Secret holding the store's credentials>}}`"


def _secret_findings(secret: Secret, landed: t.Sequence[Cluster], login: bool = False) -> list[Finding]:
    """SG208: a secret that lands nowhere (one that replaces a default credential lands where
    its component runs, so it is never reported). SG207: workload identity reaches a cloud's
    store only from that cloud, and vault from nowhere; every other way in needs credentials."""
    found = []
    store_cloud = STORE_CLOUD[secret.store]
    if secret.runs_on is None and not landed and not login and (secret.namespace, secret.name) not in _SHIPPED_CREDENTIALS:
        where = f"no {store_cloud} cluster" if store_cloud else "no cluster"
        found.append(Finding(secret.path, "SG208", f"secret `{secret.name}` lands on no cluster: {where} runs workloads in "
                             f"namespace `{secret.namespace}`", hint="add `runsOn` to send it somewhere", severity="warning"))
    foreign = sorted(c.name for c in landed if not _reaches_store(secret, c))
    if secret.auth is None and store_cloud is None:
        found.append(Finding(secret.path, "SG207", f"secret `{secret.name}` is read from vault, which no cluster reaches by workload "
                             "identity: it needs a credentials reference (`auth.secretRef`)", hint=_AUTH_HINT))
    elif foreign:
        found.append(Finding(secret.path, "SG207", f"secret `{secret.name}` cannot reach {secret.store} from {', '.join(foreign)} by "
                             "workload identity: it needs a credentials reference (`auth.secretRef`)", hint=_AUTH_HINT))
    return found


def _reaches_store(secret: Secret, cluster: Cluster) -> bool:
    """Workload identity reaches a cloud's store from that cloud only (vault: from none); a
    credentials reference (`auth.secretRef`) reaches it from anywhere."""
    return secret.auth is not None or STORE_CLOUD[secret.store] == cluster.cloud


def _secret_file_findings(secrets: t.Sequence[Secret]) -> list[Finding]:
    """SG211: two secrets (or a secret and an upstream default credential) whose namespace and
    name join into the same `secretstore-<namespace>-<name>.yaml`: one would be lost."""
    owners: dict[str, tuple[str, str]] = {  # joined -> (namespace/name, how to name it)
        f"{c.namespace}-{c.name}": (f"{c.namespace}/{c.name}", "upstream's default credential") for c in catalog.DEFAULT_CREDENTIALS
    }
    found = []
    for secret in secrets:
        joined, ident = f"{secret.namespace}-{secret.name}", f"{secret.namespace}/{secret.name}"
        earlier, what = owners.setdefault(joined, (ident, "secret"))
        if earlier != ident:
            found.append(Finding(secret.path + ("name",), "SG211",
                                 f"secret `{ident}` and {what} `{earlier}` would both be written as `secretstore-{joined}.yaml`; "
                                 "one would be lost", hint="rename one of them"))
    return found


# --- sign-on (spec.signOn) ---------------------------------------------------------------


def _sign_on_references(stack: Stack) -> list[tuple[str, str, SecretKey]]:
    """(who reads it, the namespace it must be in, reference) of every secret spec.signOn names."""
    assert stack.sign_on is not None
    found = [(f"connector `{c.id}`", catalog.DEX_NAMESPACE, ref) for c in stack.sign_on.connectors for ref in c.secret_keys()]
    external = stack.sign_on.external_issuer
    if external is not None:
        found.append(("the external issuer", OAUTH2_PROXY_NAMESPACE, external.client_secret))
    return found


@dataclass(frozen=True)
class _SignOnReads:
    """What spec.signOn reads, computed once for the fleet (a cluster's plan only looks up)."""

    references: tuple[tuple[str, str, SecretKey], ...]  # (who reads it, its namespace, reference)
    keys: frozenset[tuple[str, str]]  # (namespace, name) of those references that spec.secrets declares

    @classmethod
    def of(cls, stack: Stack) -> _SignOnReads:
        if stack.sign_on is None:
            return cls((), frozenset())
        references = tuple(_sign_on_references(stack))
        declared = {(s.namespace, s.name) for s in stack.secrets}
        return cls(references, frozenset(k for _, namespace, ref in references if (k := (namespace, ref.name)) in declared))


def _unreached_sign_on(sign_on: _SignOnReads, cluster: Cluster, landed: t.Sequence[Secret]) -> list[Finding]:
    """SG274: every sign-on secret must land on each cluster that runs auth, in its unit, or
    Dex (or oauth2-proxy) starts without it: its pod waits for the Secret its environment names."""
    arrived = {(s.namespace, s.name) for s in landed}
    found = []
    for who, namespace, ref in sign_on.references:
        if (namespace, ref.name) in arrived or (namespace, ref.name) not in sign_on.keys:
            continue  # SG270 reports an undeclared one, once
        found.append(Finding(ref.path + ("name",), "SG274",
                             f"{who} reads secret `{ref.name}`, which does not reach cluster `{cluster.name}` where auth runs "
                             "(its store is another cloud's, or its runsOn leaves this cluster out)",
                             hint=f"give secret `{ref.name}` `runsOn: [{cluster.name}]` (and `auth.secretRef` where workload identity cannot reach its store)"))
        arrived.add((namespace, ref.name))
    return found


def _sign_on_findings(stack: Stack, plans: t.Sequence[ClusterPlan]) -> list[Finding]:
    """SG270 (a secret reference spec.secrets does not declare where its reader runs), SG271 (not
    exactly one provider), SG272 (two connectors with one id), SG420 (sign-on where no cluster
    runs auth), SG421 (both or neither of Dex connectors and an external issuer)."""
    if stack.sign_on is None:
        return []
    found = []
    if bool(stack.sign_on.connectors) == (stack.sign_on.external_issuer is not None):
        found.append(Finding(stack.sign_on.path, "SG421", "spec.signOn needs exactly one of `connectors` (Dex signs users in) and "
                             "`externalIssuer` (oauth2-proxy signs them in without Dex)",
                             hint="an external issuer can be a Dex `oidc` connector instead, beside the others"))
    namespaces_of: dict[str, list[str]] = {}
    for secret in stack.secrets:
        namespaces_of.setdefault(secret.name, []).append(secret.namespace)
    ids: dict[str, str] = {}
    for index, connector in enumerate(stack.sign_on.connectors):
        if len(connector.types) != 1:
            declared = ", ".join(f"`{k}`" for k in connector.types) or "none"
            found.append(Finding(connector.path, "SG271", f"connector `{connector.id}` must declare exactly one provider (github, oidc, ldap "
                                 f"or saml); it declares {declared}",
                                 hint="split it into one connector per provider" if connector.types else "add one provider block, e.g. `github: {...}`"))
        earlier = ids.setdefault(connector.id, f"connectors[{index}]")
        if earlier != f"connectors[{index}]":
            found.append(Finding(connector.path + ("id",), "SG272", f"connector id `{connector.id}` is already used by {earlier}: Dex "
                                 "tells users apart by connector id", hint="give each connector its own id"))
    for who, namespace, ref in _sign_on_references(stack):
        found.extend(_reference_findings(who, namespace, ref, namespaces_of.get(ref.name, [])))
    if not any("auth" in plan.component_names for plan in plans):
        found.append(Finding(stack.sign_on.path, "SG420", "spec.signOn is declared, but no cluster runs auth (Dex and oauth2-proxy): "
                             "it changes nothing", hint="run a component that needs auth (pipelines, notebooks, centraldashboard) "
                             "or `auth` itself somewhere", severity="warning"))
    return found


def _reference_findings(who: str, namespace: str, ref: SecretKey, namespaces: t.Sequence[str]) -> list[Finding]:
    if namespace in namespaces:
        return []
    reader = "Dex" if namespace == catalog.DEX_NAMESPACE else "oauth2-proxy"
    elsewhere = f"; spec.secrets has `{ref.name}` only in namespace {', '.join(sorted(namespaces))}" if namespaces else ""
    return [Finding(ref.path + ("name",), "SG270", f"{who} reads secret `{ref.name}`, which spec.secrets does not declare "
                    f"in namespace `{namespace}`, where {reader} runs{elsewhere}",
                    hint=f"declare it: {{name: {ref.name}, namespace: {namespace}, store: ..., key: ...}}")]


# --- TLS on the gateway (clusters[].tls) -------------------------------------------------

# The DNS-01 solver each cloud's own DNS answers to, and the identity cert-manager acts as there.
_SOLVER_CLOUD = {"route53": "aws", "cloudDNS": "gcp", "azureDNS": "azure"}
_SOLVER_IDENTITY = {"aws": "awsRoleArn", "gcp": "gcpServiceAccount", "azure": "azureClientId"}


def _tls_findings(cluster: Cluster, needed_by: t.Mapping[str, t.Any]) -> list[Finding]:
    """SG275-SG279: a certificate needs the cluster's host, its gateway, and one way to be issued."""
    tls = cluster.tls
    if tls is None:
        return []
    found = []
    if not cluster.ingress_host:
        found.append(Finding(tls.path, "SG275", f"cluster `{cluster.name}` declares tls but no `ingressHost`: the certificate is for that host",
                             hint="add `ingressHost: kubeflow.<your domain>`"))
    if "istio" not in needed_by:
        found.append(Finding(tls.path, "SG276", f"cluster `{cluster.name}` declares tls for the Kubeflow gateway, but runs no Istio gateway"
                             + (" (edge clusters run none)" if cluster.is_edge else ""),
                             hint="run a component that needs istio here, or drop `tls`"))
    if (tls.cluster_issuer is None) == (tls.acme is None):
        found.append(Finding(tls.path, "SG279", "tls needs exactly one issuer: `clusterIssuer` (an existing ClusterIssuer) or `acme`",
                             hint="keep one of them"))
    acme = tls.acme
    if acme is None:
        return found
    fits = {"aws": "route53", "gcp": "cloudDNS", "azure": "azureDNS"}.get(cluster.cloud)
    if len(acme.solvers) != 1 or _SOLVER_CLOUD[acme.solvers[0]] != cluster.cloud:
        declared = ", ".join(f"`{k}`" for k in acme.solvers) or "none"
        hint = f"use `{fits}` on a {cluster.cloud} cluster" if fits else "on-prem clusters have no cloud DNS stackgen can drive: name an existing `clusterIssuer`"
        found.append(Finding(acme.path, "SG277", f"cluster `{cluster.name}` runs on {cluster.cloud}; its ACME issuer needs exactly the DNS-01 "
                             f"solver of that cloud's DNS, but declares {declared}", hint=hint))
        return found
    if "cert-manager" in cluster.provides:
        # The solver acts as the provided cert-manager's own service account, which no unit holds:
        # the cluster's identity (still needed below: the issuer names it) must be bound to it by hand.
        found.append(Finding(acme.path + (acme.solvers[0],), "SG423", f"cluster `{cluster.name}` provides cert-manager, so stackgen "
                             f"cannot give its service account the workload identity the {acme.solvers[0]} solver acts as",
                             severity="warning", hint="give the cluster's cert-manager service account DNS rights through its cloud "
                             "identity yourself (`stackgen explain cluster/" + cluster.name + "` lists them), or name an existing `clusterIssuer`"))
    identity = cluster.identity
    held = {"aws": identity.aws_role_arn, "gcp": identity.gcp_service_account, "azure": identity.azure_client_id}[cluster.cloud]
    if held is None:
        field = _SOLVER_IDENTITY[cluster.cloud]
        found.append(Finding(acme.path + (acme.solvers[0],), "SG278", f"the {acme.solvers[0]} solver of cluster `{cluster.name}` acts as "
                             f"cert-manager's service account with the cluster's workload identity, which it does not declare",
                             hint=f"add `identity: {{{field}: ...}}` with DNS rights, trusting system:serviceaccount:cert-manager:cert-manager"))
    return found
