"""Two Kubeflow releases: v1.11.0 beside 26.03, each built from its own real mirror (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackgen import catalog, driver, mirror, releases
from stackgen import kustomize as kz
from tests.running import environment, run
from tests.test_upstream_builds import Resource, build_catalog_paths, check_image_catalog, write_catalog_paths
from tests.upstream import MIRRORS, requires_both_releases

pytestmark = requires_both_releases
OLD = "v1.11.0"


@pytest.fixture(scope="module")
def old_catalog_renders(tmp_path_factory: pytest.TempPathFactory, kustomize: kz.Kustomize) -> dict[str, list[Resource]]:
    """Every v1.11.0 catalog path built alone against the v1.11.0 mirror."""
    source = tmp_path_factory.mktemp("old-catalog")
    write_catalog_paths(source / "catalog", OLD)
    work = mirror.materialize(mirror.open_mirror(MIRRORS[OLD]), source, tmp_path_factory.mktemp("old-work"))
    return build_catalog_paths(work.overlays / "catalog", OLD, kustomize)


def test_every_v1_11_catalog_path_builds_alone(old_catalog_renders: dict[str, list[Resource]]) -> None:
    counts = {path: len(resources) for path, resources in old_catalog_renders.items()}
    assert len(counts) >= 30
    assert all(count > 0 for count in counts.values()), counts
    # The paths that moved are v1.11.0's own, and really render what 26.03's renders under the new path.
    kinds = {(r["kind"], r["metadata"]["name"]) for r in old_catalog_renders[
        "applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user"]}
    assert ("Deployment", "ml-pipeline") in kinds
    issuers = {(r["kind"], r["metadata"]["name"]) for r in old_catalog_renders["common/cert-manager/kubeflow-issuer/base"]}
    assert ("ClusterIssuer", "kubeflow-self-signing-issuer") in issuers


def test_a_26_03_path_does_not_exist_at_v1_11() -> None:
    # The reason for a catalog per release: 26.03's Pipelines path is not in v1.11.0's tree.
    assert not (MIRRORS[OLD] / "kubeflow-manifests" / "applications" / "pipeline" / "overlays").exists()
    assert (MIRRORS["26.03"] / "kubeflow-manifests" / "applications" / "pipeline" / "overlays").is_dir()


def test_image_catalog_v1_11_is_fresh(old_catalog_renders: dict[str, list[Resource]], kustomize: kz.Kustomize, tmp_path: Path,
                                      update_goldens: bool) -> None:
    check_image_catalog(OLD, MIRRORS[OLD], old_catalog_renders, kustomize, tmp_path, update_goldens)


def test_default_credentials_hold_at_both_releases(old_catalog_renders: dict[str, list[Resource]]) -> None:
    """Each default credential the catalog deletes is really shipped at v1.11.0 too, under its rendered name."""
    secrets = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]) for rs in old_catalog_renders.values() for r in rs
               if r["kind"] == "Secret"}
    for credential in catalog.DEFAULT_CREDENTIALS:
        namespace = "" if catalog.BY_NAME[credential.component].namespace else credential.namespace
        assert (namespace, credential.rendered) in secrets, credential


def test_vendor_takes_the_release_from_the_mirror_and_refuses_a_wrong_pin(tmp_path: Path) -> None:
    env = environment(XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = run("vendor", "--from", str(MIRRORS[OLD]), env=env)
    assert done.returncode == 0, done.stderr
    assert f"as kubeflow/manifests {OLD} into" in done.stdout + done.stderr
    assert (tmp_path / "cache" / "stackgen" / "upstream" / OLD / "kubeflow-manifests" / "example").is_dir()
    wrong = run("vendor", "--from", str(MIRRORS[OLD]), "--pin", "26.03", env=env)
    assert wrong.returncode == 2 and f"holds kubeflow/manifests {OLD}" in wrong.stderr, wrong.stderr
    assert not (tmp_path / "cache" / "stackgen" / "upstream" / "26.03").exists()


def test_upstream_options_pick_the_mirror_of_each_release(tmp_path: Path) -> None:
    choice = releases.parse_upstream([f"{OLD}={MIRRORS[OLD]}", f"26.03={MIRRORS['26.03']}"])
    assert releases.explicit_for(choice, OLD) == MIRRORS[OLD]
    assert releases.explicit_for(choice, "26.03") == MIRRORS["26.03"]
    # A plain folder serves only the release it holds.
    plain = releases.parse_upstream([str(MIRRORS["26.03"])])
    assert releases.explicit_for(plain, "26.03") == MIRRORS["26.03"]
    assert releases.explicit_for(plain, OLD) is None
    with pytest.raises(driver.UpstreamMissing, match=r"holds 26\.03"):
        driver.upstream_dir(MIRRORS["26.03"], OLD, {"XDG_CACHE_HOME": str(tmp_path)})
    with pytest.raises(releases.UpstreamOptionError, match="two mirrors"):
        releases.parse_upstream([f"{OLD}=/a", f"{OLD}=/b"])
