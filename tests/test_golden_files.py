"""golden / diff on synthetic renders: compact layout, secrets redacted, field-level diffs."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import golden
from stackgen.render import ClusterRender

Resource = dict[str, t.Any]


def _isvc(replicas: int, cpu: str = "1") -> Resource:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "m", "namespace": "ml"},
            "spec": {"predictor": {"minReplicas": replicas, "model": {"resources": {"limits": {"cpu": cpu}}}}}}


UPSTREAM = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": "istio-system"}, "spec": {"type": "ClusterIP"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "auth"}, "stringData": {"password": "12341234"}}


def _files(*resources: Resource, origins: tuple[str, ...], pristine: dict[str, tuple[Resource, ...]] | None = None, full: bool = False) -> dict[str, bytes]:
    render = ClusterRender("c1", "clusters/c1", resources, origins)
    return golden.golden_files(render, pristine or {}, "26.03", "v5.5.0", full)


def test_compact_layout_index_own_and_patches() -> None:
    patched = {**UPSTREAM, "spec": {"type": "LoadBalancer"}}
    files = _files(_isvc(2), patched, SECRET, origins=("clusters/c1/own", "units/istio-aws", "units/auth"),
                   pristine={"units/istio-aws": (UPSTREAM,), "units/auth": (SECRET,)})
    assert sorted(files) == [
        "index.yaml",
        "own/inferenceservice.serving.kserve.io.ml.m.yaml",
        "patches/istio-aws/service.core.istio-system.gw.yaml",
    ]
    assert yaml.safe_load(files["patches/istio-aws/service.core.istio-system.gw.yaml"]) == {"spec": {"type": "LoadBalancer"}}
    index = yaml.safe_load(files["index.yaml"])
    assert index["upstream"] == {"kubeflow": "26.03"} and index["kustomize"] == "v5.5.0"
    assert [e["origin"] for e in index["resources"]] == ["own", "istio-aws", "auth"]
    assert all(len(e["sha256"]) == 64 for e in index["resources"])


def test_secret_values_never_reach_a_golden_file_even_in_full_format() -> None:
    files = _files(SECRET, origins=("units/auth",), full=True)
    assert not any(b"12341234" in content for content in files.values())
    assert b"sha256:" in files["resources/secret.core.auth.s.yaml"]


def test_hash_is_of_the_canonical_json() -> None:
    reordered = {"kind": "Service", "apiVersion": "v1", "spec": {"type": "ClusterIP"}, "metadata": {"namespace": "istio-system", "name": "gw"}}
    assert golden.sha256(reordered) == golden.sha256(UPSTREAM)


def test_diff_names_resource_and_field() -> None:
    old = _files(_isvc(2), origins=("clusters/c1/own",))
    new = _files(_isvc(3), origins=("clusters/c1/own",))
    [change] = golden.diff_cluster("c1", old, new).changes
    assert change.resource == "serving.kserve.io/v1beta1/InferenceService/ml/m"
    assert [(f.path, f.old, f.new) for f in change.fields] == [("spec.predictor.minReplicas", 2, 3)]
    assert "spec.predictor.minReplicas: 2 -> 3" in golden.render_text([golden.diff_cluster("c1", old, new)])


def test_equivalent_quantities_are_not_a_change() -> None:
    old = _files(_isvc(2, cpu="1"), origins=("clusters/c1/own",))
    new = _files(_isvc(2, cpu="1000m"), origins=("clusters/c1/own",))
    assert golden.diff_cluster("c1", old, new).changes == ()


def test_added_and_removed_resources_and_markdown_summary_first() -> None:
    old = _files(_isvc(2), origins=("clusters/c1/own",))
    new = _files(UPSTREAM, origins=("units/istio",))
    diff = golden.diff_cluster("c1", old, new)
    assert sorted(c.change for c in diff.changes) == ["added", "removed"]
    markdown = golden.render_markdown([diff])
    assert markdown.index("| `c1` | 1 | 1 | 0 |") < markdown.index("<details>")


def test_merge_patch() -> None:
    assert golden.merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 5}}) == {"b": {"c": 5, "d": None}}


def test_an_index_that_differs_only_in_the_kustomize_version_is_fresh() -> None:
    render = ClusterRender("c1", "clusters/c1", (_isvc(2),), ("clusters/c1/own",))
    made_with_old = golden.golden_files(render, {}, "26.03", "v5.5.0", False)["index.yaml"]
    made_with_new = golden.golden_files(render, {}, "26.03", "v5.8.1", False)["index.yaml"]
    assert made_with_old != made_with_new
    assert golden.same_but_for_the_tool(made_with_new, made_with_old) == made_with_old
    assert golden.same_but_for_the_tool(made_with_new, None) == made_with_new


def test_an_index_with_other_resources_or_pin_is_stale_whatever_the_tool() -> None:
    old = golden.golden_files(ClusterRender("c1", "clusters/c1", (_isvc(2),), ("clusters/c1/own",)), {}, "26.03", "v5.5.0", False)
    other_resources = golden.golden_files(ClusterRender("c1", "clusters/c1", (_isvc(3),), ("clusters/c1/own",)), {}, "26.03", "v5.8.1", False)
    other_pin = golden.golden_files(ClusterRender("c1", "clusters/c1", (_isvc(2),), ("clusters/c1/own",)), {}, "v1.11.0", "v5.5.0", False)
    for new in (other_resources["index.yaml"], other_pin["index.yaml"]):
        assert golden.same_but_for_the_tool(new, old["index.yaml"]) == new


def test_goldens_of_a_render_serialised_before_come_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    patched = {**UPSTREAM, "spec": {"type": "LoadBalancer"}}
    render = ClusterRender("c1", "clusters/c1", (patched, _isvc(2)), ("units/istio", "clusters/c1/own"), key="content-1")
    pristine = {"units/istio": (UPSTREAM,)}
    fresh = golden.golden_files(render, pristine, "26.03", "v5.5.0", False)
    assert fresh == _files(patched, _isvc(2), origins=("units/istio", "clusters/c1/own"), pristine=pristine)
    monkeypatch.setattr(golden, "_golden_files", lambda *_: pytest.fail("serialised again"))
    assert golden.golden_files(render, pristine, "26.03", "v5.5.0", False) == fresh
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # The pin, the tool and the format are part of the question.
    assert b"v1.11.0" in golden.golden_files(render, pristine, "v1.11.0", "v5.5.0", False)["index.yaml"]
    assert any(p.startswith("resources/") for p in golden.golden_files(render, pristine, "26.03", "v5.5.0", True))
