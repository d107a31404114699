"""plan: what needs a person before the engine syncs a cluster onto a new Kubeflow release.

`stackgen diff` says what changes; this says what a plain sync cannot do safely. It compares a
cluster's render at the old pin (from that pin's mirror, as golden/<cluster>/index.yaml records
it) with its render now, and lists, each with a stable code, the resource and what to do:

- SG801-SG804: what the engine's prune deletes (Argo CD `prune: true`, Flux
  `prune: true`): a CRD (and with it every custom resource of its kind), a PersistentVolumeClaim
  or StatefulSet (data), a database of Pipelines, Katib or Model Registry, a Namespace;
- SG805: a field the API server refuses to change in place (Deployment and StatefulSet
  `spec.selector`, Service `spec.clusterIP`, PersistentVolumeClaim `spec.storageClassName`), so
  the apply fails until the object is deleted and recreated;
- SG806: a version a CRD no longer lists in `spec.versions`, which objects stored at that
  version may still use (the API server cannot read them back);
- SG807: a resource that moves to another namespace (deleted in the old one, created anew).

Resources are matched by group, kind, namespace and name (not version), so a CRD served at a new
version is a change, not a deletion plus a creation. Linear in the two renders' sizes.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import asdict, dataclass

Resource = t.Mapping[str, t.Any]

# The codes, SG801-SG807, are in the one registry, stackgen/codes.py.

# The databases upstream ships (Deployments and their claims): deleting them loses every run,
# experiment and registered model. Names as kubeflow/manifests v1.11.0 and 26.03 render them.
DATABASES: t.Mapping[tuple[str, str], str] = {
    ("kubeflow", "mysql"): "Pipelines",
    ("kubeflow", "mysql-pv-claim"): "Pipelines",
    ("kubeflow", "metadata-mysql"): "Pipelines (ML Metadata)",
    ("kubeflow", "metadata-db"): "Pipelines (ML Metadata)",
    ("kubeflow", "minio"): "Pipelines (artifact store)",
    ("kubeflow", "minio-pvc"): "Pipelines (artifact store)",
    ("kubeflow", "seaweedfs"): "Pipelines (artifact store)",
    ("kubeflow", "seaweedfs-pvc"): "Pipelines (artifact store)",
    ("kubeflow", "katib-mysql"): "Katib",  # its Deployment and its claim share the name
    ("kubeflow", "model-registry-db"): "Model Registry",  # likewise
}
_DATA_KINDS = frozenset({"Deployment", "StatefulSet", "PersistentVolumeClaim"})
# kind -> the immutable fields a release may change, as dotted paths.
IMMUTABLE: t.Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": ("spec.storageClassName",),
}


@dataclass(frozen=True)
class PlanItem:
    code: str
    resource: str  # apiVersion/kind/namespace/name
    message: str
    action: str


@dataclass(frozen=True)
class ClusterPlan:
    cluster: str
    old: str | None  # the pin golden/ was rendered at
    new: str
    items: tuple[PlanItem, ...] = ()
    note: str = ""
    pruned: int = 0  # every resource prune deletes, items or not (`stackgen diff` lists them)


Identity = tuple[str, str, str, str]  # group, kind, namespace, name


def _identity(resource: Resource) -> Identity:
    metadata = resource.get("metadata") or {}
    group = str(resource.get("apiVersion", "")).rpartition("/")[0]
    return group, str(resource.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name"))


def _shown(resource: Resource) -> str:
    group, kind, namespace, name = _identity(resource)
    return f"{resource.get('apiVersion')}/{kind}/{namespace}/{name}"


def _field(resource: Resource, dotted: str) -> t.Any:
    node: t.Any = resource
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def plan_cluster(cluster: str, old_pin: str | None, new_pin: str, old: t.Iterable[Resource] | None,
                 new: t.Iterable[Resource], indexed: t.Iterable[Resource] = ()) -> ClusterPlan:
    """What needs a person between the old state and `new`.

    `indexed`: the golden index's entries (apiVersion, kind, namespace, name) of the old state,
    which name every resource it had, so deletions show whatever the old render holds, even
    for a component taken off the cluster; `old`: the old pin's render of the current stack
    (None: not rendered), for the fields of what both have.
    """
    stubs: list[Resource] = [{"apiVersion": e.get("apiVersion"), "kind": e.get("kind"),
              "metadata": {"name": e.get("name"), **({"namespace": e["namespace"]} if e.get("namespace") else {})}} for e in indexed]
    if old_pin is not None and old_pin != new_pin and old is None:
        return ClusterPlan(cluster, old_pin, new_pin,
                           note=f"kubeflow/manifests {old_pin} is not vendored: `stackgen vendor --from DIR --pin {old_pin}` "
                                f"(or --upstream {old_pin}=DIR), then plan again")
    rendered = {_identity(r): r for r in old or ()}
    before = {**{_identity(r): r for r in stubs}, **rendered}
    after = {_identity(r): r for r in new}
    items: list[PlanItem] = []
    moved_to = {(g, k, n): ns for g, k, ns, n in after}
    gone = sorted(before.keys() - after.keys())
    for identity in gone:
        items += _deleted(before[identity], moved_to)
    for identity in sorted(rendered.keys() & after.keys()):  # fields: only where the old render has them (an index has none)
        items += _changed(rendered[identity], after[identity])
    note = "no release change" if old_pin in (None, new_pin) and not items else ""
    return ClusterPlan(cluster, old_pin, new_pin, tuple(items), note, pruned=len(gone))


def _deleted(resource: Resource, moved_to: t.Mapping[tuple[str, str, str], str]) -> list[PlanItem]:
    group, kind, namespace, name = _identity(resource)
    shown = _shown(resource)
    if namespace and (group, kind, name) in moved_to:
        target = moved_to[(group, kind, name)]
        what = "its data does not move with it" if kind in _DATA_KINDS else "references to the old namespace break"
        return [PlanItem("SG807", shown, f"moves from namespace {namespace} to {target}: prune deletes the old one, and {what}",
                         f"migrate what it holds to {target} first, or keep the old one (annotate it to skip pruning) until done")]
    if kind == "CustomResourceDefinition":
        plural = ((resource.get("spec") or {}).get("names") or {}).get("kind") or name
        return [PlanItem("SG801", shown, f"prune deletes this CRD, and with it every {plural} on the cluster",
                         f"if the new release still needs {plural}s, keep the CRD (Argo CD: `argocd.argoproj.io/sync-options: Prune=false`; "
                         f"Flux: `kustomize.toolkit.fluxcd.io/prune: disabled`); else back up every {plural} (`kubectl get {name} -A -o yaml`)")]
    if (namespace, name) in DATABASES and kind in _DATA_KINDS:
        owner = DATABASES[(namespace, name)]
        return [PlanItem("SG803", shown, f"prune deletes the {owner} database {kind.lower()} {name}",
                         f"dump the {owner} database (and back up its volume) before the sync; restore it into the new release's database")]
    if kind in ("PersistentVolumeClaim", "StatefulSet"):
        return [PlanItem("SG802", shown, f"prune deletes this {kind}, and the data in its volumes",
                         "back up the volume (a VolumeSnapshot, or Retain on its PersistentVolume) before the sync")]
    if kind == "Namespace" and not namespace:
        return [PlanItem("SG804", shown, f"prune deletes namespace {name}, and everything in it, stackgen's or not",
                         f"move what still lives in {name} elsewhere first, or keep it (disable pruning on it)")]
    return []


def _changed(before: Resource, after: Resource) -> list[PlanItem]:
    kind = str(after.get("kind"))
    items = []
    for dotted in IMMUTABLE.get(kind, ()):
        old, new = _field(before, dotted), _field(after, dotted)
        if old != new and not (dotted == "spec.clusterIP" and (old is None or new is None)):
            items.append(PlanItem("SG805", _shown(after), f"`{dotted}` is immutable and changes: "
                                  f"{json.dumps(old, sort_keys=True)[:120]} -> {json.dumps(new, sort_keys=True)[:120]}",
                                  f"delete the {kind} just before the sync so the engine recreates it"
                                  + (" (with `--cascade=orphan`, its pods keep running until replaced)" if kind in ("Deployment", "StatefulSet") else "")))
    if kind == "CustomResourceDefinition":
        for version in sorted(_versions(before) - _versions(after)):
            items.append(PlanItem("SG806", _shown(after), f"version {version} leaves spec.versions; objects stored at {version} "
                                  "can no longer be read",
                                  f"before the sync, rewrite every stored object at a version the new CRD serves (read and write each "
                                  f"back, e.g. kube-storage-version-migrator), then check status.storedVersions no longer lists {version}"))
    return items


def _versions(crd: Resource) -> set[str]:
    return {str(v.get("name")) for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict)}


def render_text(plans: t.Sequence[ClusterPlan]) -> str:
    lines = []
    for plan in plans:
        head = f"cluster {plan.cluster}: kubeflow/manifests {plan.old} -> {plan.new}"
        if plan.note:
            lines.append(f"{head}: {plan.note}")
            continue
        lines.append(f"{head}: {len(plan.items)} item{'s' if len(plan.items) != 1 else ''} need a person before the sync; "
                     f"prune deletes {plan.pruned} resource{'s' if plan.pruned != 1 else ''} in all (`stackgen diff` lists them)")
        for item in plan.items:
            lines += [f"  {item.code} {item.resource}", f"      {item.message}", f"      do: {item.action}"]
    return "\n".join(lines) + ("\n" if lines else "")


def render_markdown(plans: t.Sequence[ClusterPlan]) -> str:
    """The plan as a pull-request comment: one table per cluster that needs a person."""
    lines = ["### stackgen plan", ""]
    if not plans:
        return "\n".join(lines + ["No cluster rendered.", ""])
    lines += ["| cluster | release | needs a person | prune deletes |", "|---|---|---:|---:|"]
    for plan in plans:
        needs = plan.note if plan.note else str(len(plan.items))
        lines.append(f"| `{plan.cluster}` | {plan.old} → {plan.new} | {_cell(needs)} | {plan.pruned} |")
    for plan in (p for p in plans if p.items):
        lines += ["", f"#### `{plan.cluster}`: kubeflow/manifests {plan.old} → {plan.new}", "",
                  "| code | resource | what | do |", "|---|---|---|---|"]
        lines += [f"| {i.code} | `{_cell(i.resource)}` | {_cell(i.message)} | {_cell(i.action)} |" for i in plan.items]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # A `|` ends a cell and a line break ends the row: neither may come through from a message.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_json(plans: t.Sequence[ClusterPlan]) -> str:
    return json.dumps([asdict(plan) for plan in plans], indent=2, ensure_ascii=False) + "\n"
