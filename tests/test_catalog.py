"""catalog: the DAG, its order and its edge limits."""

from __future__ import annotations

import json

import pytest

from stackgen import catalog
from tests.compiling import ROOT


def test_catalog_is_a_dag_and_every_need_is_a_component() -> None:
    for component in catalog.COMPONENTS:
        for need in component.needs + (component.edge_needs or ()):
            assert need in catalog.BY_NAME, (component.name, need)
    assert set(catalog.dependency_order(catalog.NAMES, edge=False)) == set(catalog.NAMES)


@pytest.mark.parametrize("name", catalog.NAMES)
def test_needs_come_before_their_user(name: str) -> None:
    order = catalog.dependency_order(catalog.closure([name], edge=False), edge=False)
    for index, component in enumerate(order):
        assert set(catalog.needs_of(component, edge=False)) <= set(order[:index])
    assert order[-1] == name


def test_edge_closure_stays_inside_the_edge_profile() -> None:
    assert set(catalog.closure(["kserve"], edge=True)) == {"kserve", "cert-manager", "kubeflow-namespace"}
    assert catalog.paths_of("kserve", "onprem", edge=True, release="26.03") == ("applications/kserve/kserve",)


def test_cloud_specific_upstream_paths() -> None:
    assert "common/istio/istio-install/overlays/gke" in catalog.paths_of("istio", "gcp", edge=False, release="26.03")
    assert "common/oauth2-proxy/overlays/m2m-dex-and-eks" in catalog.paths_of("auth", "aws", edge=False, release="26.03")
    assert "common/oauth2-proxy/overlays/m2m-dex-only" in catalog.paths_of("auth", "azure", edge=False, release="26.03")


def test_paths_that_moved_between_releases() -> None:
    # v1.11.0's example/kustomization.yaml against 26.03's: only these two moved.
    assert catalog.paths_of("pipelines", "aws", edge=False, release="v1.11.0") == (
        "applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user",)
    assert catalog.paths_of("pipelines", "aws", edge=False, release="26.03") == ("applications/pipeline/overlays",)
    assert catalog.paths_of("cert-manager", "gcp", edge=True, release="v1.11.0") == (
        "common/cert-manager/base", "common/cert-manager/kubeflow-issuer/base")
    moved = {c.name for c in catalog.COMPONENTS
             if catalog.component_at(c.name, "v1.11.0").paths != catalog.component_at(c.name, "26.03").paths}
    assert moved == {"pipelines", "cert-manager"}


def test_schema_lists_exactly_the_catalog_releases() -> None:
    schema = json.loads((ROOT / "schemas" / "stack.schema.json").read_text("utf-8"))
    pin = schema["properties"]["spec"]["properties"]["upstream"]["properties"]["kubeflow"]
    assert tuple(pin["enum"]) == catalog.SUPPORTED_RELEASES
    assert pin["default"] == catalog.DEFAULT_RELEASE


def test_remote_url_is_pinned() -> None:
    assert catalog.remote_url("applications/pipeline/overlays", "26.03") == (
        "https://github.com/kubeflow/manifests//applications/pipeline/overlays?ref=26.03"
    )


def test_layer_patches_always_select_a_target() -> None:
    for layer, patches in catalog.LAYERS.items():
        for patch in patches:
            assert {"kind", "name"} <= set(patch.target), (layer, patch.file)
