"""catalog: the DAG, its order and its edge limits."""

from __future__ import annotations

import pytest

from stackgen import catalog


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
    assert catalog.paths_of("kserve", "onprem", edge=True) == ("applications/kserve/kserve",)


def test_cloud_specific_upstream_paths() -> None:
    assert "common/istio/istio-install/overlays/gke" in catalog.paths_of("istio", "gcp", edge=False)
    assert "common/oauth2-proxy/overlays/m2m-dex-and-eks" in catalog.paths_of("auth", "aws", edge=False)
    assert "common/oauth2-proxy/overlays/m2m-dex-only" in catalog.paths_of("auth", "azure", edge=False)


def test_remote_url_is_pinned() -> None:
    assert catalog.remote_url("applications/pipeline/overlays", "26.03") == (
        "https://github.com/kubeflow/manifests//applications/pipeline/overlays?ref=26.03"
    )


def test_layer_patches_always_select_a_target() -> None:
    for layer, patches in catalog.LAYERS.items():
        for patch in patches:
            assert {"kind", "name"} <= set(patch.target), (layer, patch.file)
