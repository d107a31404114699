"""The upgrade plan's rules, on small renders written here (the real mirrors: tests/test_releases.py)."""

from __future__ import annotations

import typing as t

from stackgen import codes, plan

Resource = dict[str, t.Any]


def _crd(name: str, kind: str, versions: list[str]) -> Resource:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name},
            "spec": {"names": {"kind": kind}, "versions": [{"name": v} for v in versions]}}


def _object(api: str, kind: str, namespace: str, name: str, spec: Resource | None = None) -> Resource:
    return {"apiVersion": api, "kind": kind, "metadata": {"namespace": namespace, "name": name}, "spec": spec or {}}


def _codes(old: list[Resource], new: list[Resource]) -> list[tuple[str, str]]:
    return [(i.code, i.resource) for i in plan.plan_cluster("c", "v1.11.0", "26.03", old, new).items]


def test_pruned_crds_data_databases_and_namespaces_need_a_person() -> None:
    old = [_crd("mpijobs.kubeflow.org", "MPIJob", ["v2beta1"]),
           _object("v1", "PersistentVolumeClaim", "kubeflow", "katib-mysql"),
           _object("apps/v1", "StatefulSet", "kubeflow", "cache"),
           _object("v1", "Namespace", "", "legacy"),
           _object("v1", "ConfigMap", "kubeflow", "plain")]
    assert _codes(old, []) == [
        ("SG804", "v1/Namespace//legacy"), ("SG803", "v1/PersistentVolumeClaim/kubeflow/katib-mysql"),
        ("SG801", "apiextensions.k8s.io/v1/CustomResourceDefinition//mpijobs.kubeflow.org"),
        ("SG802", "apps/v1/StatefulSet/kubeflow/cache"),
    ]
    assert plan.plan_cluster("c", "v1.11.0", "26.03", old, []).pruned == 5  # the ConfigMap counts, but needs nobody


def test_immutable_fields_and_dropped_crd_versions() -> None:
    selector = {"selector": {"matchLabels": {"app": "a"}}}
    old = [_object("apps/v1", "Deployment", "kubeflow", "d", selector), _crd("x.example.io", "X", ["v1alpha1", "v1"]),
           _object("v1", "Service", "kubeflow", "s", {"clusterIP": "None"})]
    new = [_object("apps/v1", "Deployment", "kubeflow", "d", {"selector": {"matchLabels": {"app": "b"}}}), _crd("x.example.io", "X", ["v1"]),
           _object("v1", "Service", "kubeflow", "s", {})]  # clusterIP left to the API server: no change
    items = plan.plan_cluster("c", "v1.11.0", "26.03", old, new).items
    assert [(i.code, i.resource) for i in items] == [
        ("SG806", "apiextensions.k8s.io/v1/CustomResourceDefinition//x.example.io"), ("SG805", "apps/v1/Deployment/kubeflow/d")]
    assert "v1alpha1" in items[0].message and "spec.selector" in items[1].message


def test_a_crd_served_at_a_new_version_is_a_change_not_a_deletion() -> None:
    old = [_object("kubeflow.org/v1beta1", "Profile", "", "p")]
    assert _codes(old, [_object("kubeflow.org/v1", "Profile", "", "p")]) == []


def test_a_namespace_move_is_one_item() -> None:
    old = [_object("apps/v1", "Deployment", "kubeflow", "ui")]
    [(code, resource)] = _codes(old, [_object("apps/v1", "Deployment", "kubeflow-system", "ui")])
    assert code == "SG807" and resource == "apps/v1/Deployment/kubeflow/ui"


def test_no_release_change_or_no_old_mirror_says_so() -> None:
    assert plan.plan_cluster("c", "26.03", "26.03", None, []).note == "no release change"
    assert "stackgen vendor --from DIR --pin v1.11.0" in plan.plan_cluster("c", "v1.11.0", "26.03", None, []).note
    assert {c for c, entry in codes.CODES.items() if entry.emitted_by == ("plan",)} == {f"SG80{n}" for n in range(1, 8)}


def test_a_component_taken_off_shows_from_the_golden_index_alone() -> None:
    # The old pin's render is of the current stack; the index still names what the cluster had.
    indexed = [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "namespace": "", "name": "experiments.kubeflow.org"}]
    result = plan.plan_cluster("c", "26.03", "26.03", None, [], indexed)
    assert [(i.code, i.resource) for i in result.items] == [("SG801", "apiextensions.k8s.io/v1/CustomResourceDefinition//experiments.kubeflow.org")]
    assert result.note == ""


def test_markdown_plan_is_a_table_per_cluster_that_needs_a_person() -> None:
    needs = plan.plan_cluster("gke-a", "v1.11.0", "26.03", [_crd("mpijobs.kubeflow.org", "MPIJob", ["v2beta1"])], [])
    quiet = plan.plan_cluster("gke-b", "26.03", "26.03", None, [])
    odd = plan.ClusterPlan("gke-c", "v1.11.0", "26.03", (plan.PlanItem("SG807", "v1/ConfigMap/a|b/x", "moves\nfrom a|b", "apply it"),))
    text = plan.render_markdown([needs, quiet, odd])
    [item] = needs.items
    assert text.splitlines() == [
        "### stackgen plan", "",
        "| cluster | release | needs a person | prune deletes |", "|---|---|---:|---:|",
        "| `gke-a` | v1.11.0 → 26.03 | 1 | 1 |",
        "| `gke-b` | 26.03 → 26.03 | no release change | 0 |",
        "| `gke-c` | v1.11.0 → 26.03 | 1 | 0 |",
        "", "#### `gke-a`: kubeflow/manifests v1.11.0 → 26.03", "",
        "| code | resource | what | do |", "|---|---|---|---|",
        f"| SG801 | `{item.resource}` | {item.message} | {item.action} |",
        "", "#### `gke-c`: kubeflow/manifests v1.11.0 → 26.03", "",
        "| code | resource | what | do |", "|---|---|---|---|",
        "| SG807 | `v1/ConfigMap/a\\|b/x` | moves from a\\|b | apply it |",
    ]
    assert plan.render_markdown([]) == "### stackgen plan\n\nNo cluster rendered.\n"
