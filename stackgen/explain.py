"""explain and graph: the placement's decisions, as text for humans and as dot or mermaid.

Both read only the model and the placement: they show what `place` decided and why, never
decide anything themselves.
"""

from __future__ import annotations

import typing as t

from stackgen import prerequisites
from stackgen.diagnostics import plural
from stackgen.errors import UnknownClusterSubject, UnknownSubject
from stackgen.load import SourceMap
from stackgen.model import Stack
from stackgen.place import Placement

KINDS = ("cluster", "component", "dataset", "trainingJob", "model", "secret", "tenant")


def explain(stack: Stack, placement: Placement, subject: str, file: str, source: SourceMap) -> str:
    kind, _, name = subject.partition("/")
    explainers: dict[str, t.Callable[[Stack, Placement, str], list[str] | None]] = {
        "cluster": _cluster,
        "component": _component,
        "dataset": _dataset,
        "trainingJob": _job,
        "model": _model,
        "secret": _secret,
        "tenant": _tenant,
    }
    # An unknown cluster is SG706 wherever it is named (as with --cluster); anything else SG202.
    unknown = UnknownClusterSubject if subject.startswith("cluster/") else UnknownSubject
    if kind not in explainers or not name:
        raise unknown(f"`{subject}`: expected KIND/NAME with KIND one of {', '.join(KINDS)}")
    lines = explainers[kind](stack, placement, name)
    if lines is None:
        raise unknown(f"`{subject}`: stack.yaml declares no {kind} named `{name}`")
    where = _where(stack, kind, name, file, source)
    return "\n".join([f"{kind}/{name}" + (f" ({where})" if where else "")] + [f"  {line}" for line in lines]) + "\n"


def _where(stack: Stack, kind: str, name: str, file: str, source: SourceMap) -> str:
    paths = {
        "cluster": [c.path for c in stack.clusters if c.name == name],
        "component": [c.path for c in stack.components if c.name == name],
        "dataset": [d.path for d in stack.datasets if d.name == name],
        "trainingJob": [j.path for j in stack.training_jobs if j.name == name],
        "model": [m.path for m in stack.models if m.name == name],
        "secret": [s.path for s in stack.secrets if s.name == name],
        "tenant": [x.path for x in stack.tenants if x.name == name],
    }[kind]
    if not paths:
        return ""
    position = source.value_at(paths[0])
    return f"{file}:{position.line}:{position.column}"


def _cluster(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    plan = next((p for p in placement.plans if p.cluster.name == name), None)
    if plan is None:
        return None
    cluster = plan.cluster
    lines = [f"{cluster.cloud} {cluster.region}, Kubernetes {cluster.kubernetes_version}, roles {', '.join(cluster.roles)}"
             + (" (edge profile: core KServe only)" if cluster.is_edge else "")]
    release = cluster.release or stack.upstream.kubeflow
    lines.append(f"kubeflow/manifests {release}" + (f", rollout wave {cluster.wave} (git revision {cluster.revision})" if cluster.wave else ""))
    # A foundation the cluster provides is resolved but not installed: say what stackgen still deploys.
    provided = {name: "provided by the cluster (stackgen deploys only Kubeflow's objects on top)" for name in cluster.provides}
    lines += [f"component {c.name}: {'; '.join(c.reasons)}" + (f"; {provided[c.name]}" if c.name in provided else "") for c in plan.components]
    if cluster.database is not None:
        lines.append(f"database: external MySQL {cluster.database.host}:{cluster.database.port}, login from secret "
                     f"`{cluster.database.credentials}`; the in-cluster MySQL of its components is not deployed")
    if cluster.object_store is not None:
        lines.append(f"object store: bucket {cluster.object_store.bucket}, keys from secret `{cluster.object_store.credentials}`; "
                     "Pipelines' SeaweedFS is not deployed")
    lines += [f"trainingJob {j.name}: its dataset `{j.dataset}` lives here" for j in plan.training_jobs]
    lines += [f"model {m.name}: serveOn {list(m.serve_on)} selects this cluster" for m in plan.models]
    lines += [f"tenant {x.name}: Profile owned by {x.owner} (units/profiles-{name}/profile-{x.name}.yaml)" for x in plan.tenants]
    lines += [f"secret {s.namespace}/{s.name}: from {s.store}" for s in plan.secrets]
    lines += [f"secret {s.namespace}/{s.name}: from {s.store} {s.key}, replacing upstream's default credential" for s in plan.credentials]
    lines += [f"secret {s.namespace}/{s.name}: from {s.store} {s.key}, read by sign-on" for s in plan.sign_on_secrets]
    if stack.sign_on is not None and "auth" in plan.component_names:
        external = stack.sign_on.external_issuer
        lines.append(f"sign-on: oauth2-proxy signs in with {external.issuer}; Dex is not deployed" if external is not None else
                     "sign-on: Dex's static user is off; connectors " + ", ".join(f"{c.id} ({c.types[0]})" for c in stack.sign_on.connectors if c.types))
    if cluster.tls is not None:
        issuer = f"ClusterIssuer {cluster.tls.cluster_issuer} (the cluster's own)" if cluster.tls.cluster_issuer else "ACME ClusterIssuer stackgen-acme"
        lines.append(f"tls: Certificate istio-system/stackgen-gateway for {cluster.ingress_host} from {issuer}; the gateway serves HTTPS on 443")
    lines.append(f"overlay: clusters/{name}/")
    # What the first sync needs that stackgen does not deliver (docs/first-sync.md).
    lines += [f"before the first sync: {line}" for line in prerequisites.prerequisites(stack, plan)]
    return lines


def _component(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    hits = [(p.cluster.name, c) for p in placement.plans for c in p.components if c.name == name]
    requested = any(c.name == name for c in stack.components)
    if not hits and not requested:
        return None
    if not hits:
        return ["runs on no cluster: its runsOn selects none"]
    return [f"on {cluster}: {'; '.join(c.reasons)}" for cluster, c in hits]


def _dataset(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    dataset = next((d for d in stack.datasets if d.name == name), None)
    if dataset is None:
        return None
    lines = [f"{dataset.uri} lives on cluster {dataset.cluster}" + (f" ({dataset.size})" if dataset.size else "")]
    users = [j.name for j in stack.training_jobs if j.dataset == name]
    jobs = "training job" if len(users) == 1 else "training jobs"
    lines.append(f"read by {jobs} {', '.join(users)}, which therefore run on {dataset.cluster}" if users else "no training job reads it")
    return lines


def _job(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    job = next((j for j in stack.training_jobs if j.name == name), None)
    if job is None:
        return None
    dataset = stack.dataset(job.dataset)
    return [
        f"reads dataset {dataset.name} ({dataset.uri}), which lives on {dataset.cluster}",
        f"runs on {dataset.cluster}: data does not move, the job goes to it",
        f"brings trainer to {dataset.cluster}; runtime {job.runtime}, {plural(job.workers, 'worker')} x {plural(job.gpus_per_worker, 'GPU')}",
        f"compiled to clusters/{dataset.cluster}/own/trainjob-{job.name}.yaml (namespace {job.namespace})",
    ]


def _model(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    model = next((m for m in stack.models if m.name == name), None)
    if model is None:
        return None
    lines = [f"{model.format} model from {model.storage_uri}, {plural(model.replicas, 'replica')}"]
    for plan in placement.plans:
        if model in plan.models:
            profile = "edge profile, Standard deployment mode" if plan.cluster.is_edge else "serverless via Knative and Istio"
            hits = [s for s in model.serve_on if s == plan.cluster.name or s in plan.cluster.roles]
            lines.append(f"served on {plan.cluster.name} (serveOn {', '.join(hits)}; {profile}) -> clusters/{plan.cluster.name}/own/inferenceservice-{name}.yaml")
    return lines


def _secret(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    secrets = [s for s in stack.secrets if s.name == name]
    if not secrets:
        return None
    lines = []
    for secret in secrets:
        clusters = [p.cluster.name for p in placement.plans if secret in p.secrets or secret in p.credentials]
        rule = f"runsOn {list(secret.runs_on)}" if secret.runs_on is not None else f"workloads in namespace {secret.namespace} on {secret.store}'s cloud"
        lines.append(f"{secret.namespace}/{secret.name} from {secret.store} key {secret.key}: {rule} -> {', '.join(clusters) or 'no cluster'}")
    return lines


# --- graph ------------------------------------------------------------------------------


def _edges(stack: Stack, placement: Placement) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, list[str]]]]:
    """(from, to, label) edges and, per cluster, (id, label, component names)."""
    clusters = [
        (f"cluster_{p.cluster.name}", f"{p.cluster.name} ({p.cluster.cloud}; {', '.join(p.cluster.roles)}"
         + (f"; wave {p.cluster.wave}, {p.cluster.release})" if p.cluster.wave else ")"), list(p.component_names))
        for p in placement.plans
    ]
    edges: list[tuple[str, str, str]] = []
    for dataset in stack.datasets:
        edges.append((f"dataset_{dataset.name}", f"cluster_{dataset.cluster}", "lives on"))
    for job in stack.training_jobs:
        edges.append((f"job_{job.name}", f"dataset_{job.dataset}", "reads"))
        edges.append((f"job_{job.name}", f"cluster_{stack.dataset(job.dataset).cluster}", "runs on"))
    for plan in placement.plans:
        for model in plan.models:
            edges.append((f"model_{model.name}", f"cluster_{plan.cluster.name}", "served on"))
    return edges, clusters


def _node_labels(stack: Stack) -> list[tuple[str, str, str]]:
    nodes = [(f"dataset_{d.name}", f"dataset {d.name}", "cylinder") for d in stack.datasets]
    nodes += [(f"job_{j.name}", f"trainingJob {j.name}", "box") for j in stack.training_jobs]
    nodes += [(f"model_{m.name}", f"model {m.name}", "hexagon") for m in stack.models]
    return nodes


def _id(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def graph_dot(stack: Stack, placement: Placement) -> str:
    edges, clusters = _edges(stack, placement)
    lines = [f'digraph "{stack.name}" {{', "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for cluster_id, label, components in clusters:
        body = "\\n".join([label, *components]) if components else f"{label}\\n(no components)"
        lines.append(f'  {_id(cluster_id)} [label="{body}", shape=box3d];')
    for node_id, label, shape in _node_labels(stack):
        lines.append(f'  {_id(node_id)} [label="{label}", shape={shape}];')
    for source, target, label in edges:
        lines.append(f'  {_id(source)} -> {_id(target)} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_mermaid(stack: Stack, placement: Placement) -> str:
    edges, clusters = _edges(stack, placement)
    lines = ["flowchart LR"]
    for cluster_id, label, components in clusters:
        lines.append(f'  subgraph {_id(cluster_id)}["{label}"]')
        lines += [f'    {_id(cluster_id)}__{_id(c)}["{c}"]' for c in components] or [f'    {_id(cluster_id)}__empty["(no components)"]']
        lines.append("  end")
    shapes = {"cylinder": ('[("', '")]'), "box": ('["', '"]'), "hexagon": ('{{"', '"}}')}
    for node_id, label, shape in _node_labels(stack):
        opening, closing = shapes[shape]
        lines.append(f"  {_id(node_id)}{opening}{label}{closing}")
    for source, target, label in edges:
        lines.append(f"  {_id(source)} -->|{label}| {_id(target)}")
    return "\n".join(lines) + "\n"


def _tenant(stack: Stack, placement: Placement, name: str) -> list[str] | None:
    tenant = stack.tenant(name)
    if tenant is None:
        return None
    rule = f"clusters {list(tenant.clusters)}" if tenant.clusters is not None else "every cluster that runs profiles"
    lines = [f"Profile {tenant.name} owned by {tenant.owner}, {plural(len(tenant.contributors), 'contributor')}; lands on {rule}"]
    for plan in placement.plans:
        if tenant in plan.tenants:
            identity = tenant.identity_on(plan.cluster)
            held = identity.aws_role_arn or identity.gcp_service_account or identity.azure_client_id
            lines.append(f"on {plan.cluster.name}: namespace {tenant.name}, workloads run as default-editor"
                         + (f" with {plan.cluster.cloud} identity {held}" if held else " with no cloud identity of its own")
                         + f" -> units/profiles-{plan.cluster.name}/profile-{tenant.name}.yaml")
    return lines
