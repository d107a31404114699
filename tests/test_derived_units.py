"""A shared unit that only patches named objects of upstream is rendered from upstream's own render
(built once for every unit over the same folders, and for the goldens) with just those objects
built again (render `#derived`). Its render must be exactly what building the unit whole gives,
on both releases and on every kind of unit the catalog makes.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import pytest
import yaml

from stackgen import kustomize as kz
from stackgen import render
from stackgen.driver import compile_checked
from stackgen.layout import Layout, Piece
from tests.compiling import BUNDLED, CASES, checked
from tests.upstream import MIRRORS, requires_both_releases

# Every cloud and edge (bundled), every component (full-catalog), on both releases: where the
# units differ, from each other and between releases.
CASES_RENDERED = [("bundled", BUNDLED, "26.03"), ("full-catalog", CASES / "positive" / "full-catalog" / "stack.yaml", "26.03"),
                  ("full-catalog", CASES / "positive" / "full-catalog" / "stack.yaml", "v1.11.0"), ("bundled", BUNDLED, "v1.11.0")]


def _at_release(source: Path, release: str, into: Path) -> Path:
    tree = yaml.safe_load(source.read_text())
    tree["spec"].setdefault("upstream", {})["kubeflow"] = release
    into.write_text(yaml.safe_dump(tree, sort_keys=False))
    return into


def _canonical(cluster: render.ClusterRender) -> list[str]:
    assert cluster.error is None, cluster.error
    return sorted(json.dumps(r, sort_keys=True) for r in cluster.resources)


@pytest.fixture()
def folders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders kustomize is run on, in order: the real kustomize runs, this only listens."""
    built: list[str] = []
    real_build = kz.build

    def recording(tool: kz.Kustomize, directory: Path, timeout: float = kz.BUILD_TIMEOUT) -> str:
        built.append(directory.name)
        return real_build(tool, directory, timeout)

    monkeypatch.setattr(kz, "build", recording)
    return built


def _whole(layout: Layout) -> Layout:
    """The same layout with every unit built whole, as kustomize builds its folder."""
    return Layout(layout.clusters, {path: dataclasses.replace(piece, named_patches=None) for path, piece in layout.pieces.items()})


@requires_both_releases
@pytest.mark.parametrize(("name", "stack", "release"), CASES_RENDERED, ids=[f"{n}-{r}" for n, _, r in CASES_RENDERED])
def test_a_derived_unit_renders_as_the_whole_unit_does(name: str, stack: Path, release: str, kustomize: kz.Kustomize, tmp_path: Path,
                                                       folders: list[str]) -> None:
    compiled = compile_checked(checked(_at_release(stack, release, tmp_path / "stack.yaml")))
    overlays = tmp_path / "overlays"
    for path, content in compiled.files.items():
        (overlays / path).parent.mkdir(parents=True, exist_ok=True)
        (overlays / path).write_bytes(content)
    derivable = sorted(path.removeprefix("units/") for path, piece in compiled.layout.pieces.items() if piece.named_patches is not None)
    assert derivable, "the stack has no unit render could derive"
    # The first case renders from nothing, so it proves the units are derived; the others share
    # the suite's cache (what other tests built is reused, the comparison is the same).
    fresh = (name, release) == CASES_RENDERED[0][::2]
    derived = render.render(overlays, MIRRORS[release], kustomize, compiled.layout, jobs=2, pristine=True,
                            cache=tmp_path / "derived" if fresh else render.cache_root())
    if fresh:
        # Derived, not quietly built whole: a unit whose patches only kustomize can place (a
        # deleted generated Secret, whose references go back to its first name) is the exception.
        assert {"istio-aws.derived", "istio-gcp.derived", "kserve-edge.derived", "trainer.derived"} <= set(folders), folders
        assert "istio-aws" not in folders and "auth" in folders
        for unit in derivable:
            assert f"{unit}.derived" in folders or unit in folders, unit
    whole = render.render(overlays, MIRRORS[release], kustomize, _whole(compiled.layout), jobs=2, cache=render.cache_root(), pristine=True)
    for mine, theirs in zip(derived.clusters, whole.clusters, strict=True):
        assert _canonical(mine) == _canonical(theirs), mine.cluster
    assert derived.pristine == whole.pristine


@requires_both_releases
def test_a_unit_edited_by_hand_is_built_whole(kustomize: kz.Kustomize, tmp_path: Path, folders: list[str]) -> None:
    """Render trusts the layout's targets only while the files say the same: kustomize reads the files."""
    compiled = compile_checked(checked(BUNDLED))
    overlays = tmp_path / "overlays"
    for path, content in compiled.files.items():
        (overlays / path).parent.mkdir(parents=True, exist_ok=True)
        (overlays / path).write_bytes(content)
    patch = overlays / "components" / "aws" / "kustomization.yaml"
    patch.write_text(patch.read_text().replace("name: istio-ingressgateway", "name: cluster-local-gateway"))
    result = render.render(overlays, MIRRORS["26.03"], kustomize, compiled.layout, clusters=["aws-use1"], cache=tmp_path / "c")
    assert "istio-aws" in folders and "istio-aws.derived" not in folders
    gateway = [r for r in result.clusters[0].resources if r["kind"] == "Service" and r["metadata"]["name"] == "cluster-local-gateway"]
    assert gateway and t.cast(dict[str, t.Any], gateway[0]["metadata"]).get("annotations", {}).get(
        "service.beta.kubernetes.io/aws-load-balancer-type") == "nlb"


def test_a_patch_that_renames_what_it_names_is_left_to_a_whole_build() -> None:
    """Spliced by id, a renamed object would sit beside its old self: no derived render then."""
    service: dict[str, t.Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gateway", "namespace": "istio-system"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "istio-system"}}
    patch = {"target": {"version": "v1", "kind": "Service", "name": "gateway", "namespace": "istio-system"}, "patch": "x"}
    piece = Piece("units/u", named_patches=(patch,), modifies_upstream=True)
    annotated = {**service, "metadata": {**service["metadata"], "annotations": {"a": "b"}}}
    assert render._derived([other, service], [annotated], piece) == [other, annotated]
    renamed = {**service, "metadata": {"name": "gateway-2", "namespace": "istio-system"}}
    assert render._derived([other, service], [renamed], piece) is None
