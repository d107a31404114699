"""Two Kubeflow releases: v1.11.0 beside 26.03, each built from its own real mirror (no network)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stackgen import catalog, driver, mirror, releases
from stackgen import kustomize as kz
from tests.compiling import ROOT
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
    assert not releases.serves(MIRRORS["26.03"], OLD)
    with pytest.raises(driver.UpstreamMissing, match=r"holds 26\.03"):
        driver.upstream_dir(releases.explicit_for(plain, OLD), OLD, {"XDG_CACHE_HOME": str(tmp_path)})
    with pytest.raises(driver.UpstreamMissing, match=r"holds 26\.03"):
        driver.upstream_dir(MIRRORS["26.03"], OLD, {"XDG_CACHE_HOME": str(tmp_path)})
    with pytest.raises(releases.UpstreamOptionError, match="two mirrors"):
        releases.parse_upstream([f"{OLD}=/a", f"{OLD}=/b"])


# --- upstream.mode: vendored ---------------------------------------------------------------

_VENDORED_STACK = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: lab}
spec:
  upstream: {kubeflow: "RELEASE", mode: vendored}
  gitops: {engine: flux, repoURL: "https://git.lab.internal/ml/platform.git"}
  clusters:
    - {name: lab-a, cloud: gcp, region: europe-west4, kubernetesVersion: "1.31", roles: [training],
       identity: {gcpServiceAccount: ml-train@acme-lab.iam.gserviceaccount.com}}
    - {name: lab-edge, cloud: onprem, region: lab, kubernetesVersion: "1.31", roles: [edge]}
  components:
    pipelines: {runsOn: [training]}
    kserve: {runsOn: [edge]}
"""


def _offline_build(kustomize: kz.Kustomize, directory: Path) -> list[Resource]:
    """`kustomize build` in a network namespace with no network at all, no URL mapping: what an
    air-gapped engine does."""
    argv = ["unshare", "-rn", *kustomize.argv, str(directory)] if shutil.which("unshare") else [*kustomize.argv, str(directory)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": str(directory), "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert done.returncode == 0, done.stderr[-2000:]
    return [r for r in yaml.load_all(done.stdout, Loader=yaml.CSafeLoader) if r]


@pytest.fixture(scope="module", params=[OLD, "26.03"])
def vendored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    release = request.param
    root = tmp_path_factory.mktemp(f"vendored-{release}")
    (root / "stack.yaml").write_text(_VENDORED_STACK.replace("RELEASE", release))
    done = run("build", "-f", str(root / "stack.yaml"), "--upstream", f"{release}={MIRRORS[release]}",
               env=environment(XDG_CACHE_HOME=str(root / "cache")))
    assert done.returncode == 0, done.stderr
    return release, root / "overlays"


def test_vendored_clusters_build_with_no_network(vendored: tuple[str, Path], kustomize: kz.Kustomize) -> None:
    release, overlays = vendored
    lab = _offline_build(kustomize, overlays / "clusters" / "lab-a")
    assert ("Deployment", "ml-pipeline") in {(r["kind"], r["metadata"]["name"]) for r in lab}
    edge = _offline_build(kustomize, overlays / "clusters" / "lab-edge")
    assert ("Deployment", "kserve-controller-manager") in {(r["kind"], r["metadata"]["name"]) for r in edge}
    # Every unit names its release's copy, never a URL; upstream's own remote bases are repointed.
    for kustomization in overlays.glob("**/kustomization.yaml"):
        body = yaml.safe_load(kustomization.read_text("utf-8")) or {}
        assert not [r for r in body.get("resources") or [] if mirror.is_remote(r)], kustomization
    assert {p.name for p in (overlays / "upstream").iterdir()} == {release}
    assert (overlays / "upstream" / release / "remote").is_dir()  # Trainer's JobSet and LWS are not used here...
    # ...but Pipelines' Argo Workflows is: only what the units reach is written.
    written = {p.relative_to(overlays / "upstream" / release).as_posix() for p in (overlays / "upstream" / release).rglob("*") if p.is_file()}
    assert any(p.startswith("remote/argo-workflows@") for p in written)
    assert not any(p.startswith(("remote/jobset@", "remote/lws@", "kubeflow-manifests/example/")) for p in written)
    assert not any("/spark/" in p or "/katib/" in p for p in written)


def test_vendored_render_equals_the_remote_render(vendored: tuple[str, Path], kustomize: kz.Kustomize, tmp_path: Path) -> None:
    """The copy is the mirror's upstream: the edge cluster renders the same resources either way."""
    release, overlays = vendored
    (tmp_path / "stack.yaml").write_text(_VENDORED_STACK.replace("RELEASE", release).replace(", mode: vendored", ""))
    assert run("build", "-f", str(tmp_path / "stack.yaml")).returncode == 0
    work = mirror.materialize(mirror.open_mirror(MIRRORS[release]), tmp_path / "overlays", tmp_path / "work")
    remote = [r for r in yaml.load_all(kz.build(kustomize, work.overlays / "clusters" / "lab-edge"), Loader=yaml.CSafeLoader) if r]
    assert remote == _offline_build(kustomize, overlays / "clusters" / "lab-edge")


def test_vendored_files_are_owned_deterministic_and_engine_objects_stay_in_the_repo(vendored: tuple[str, Path], tmp_path: Path) -> None:
    release, overlays = vendored
    lock = (overlays / ".stackgen.lock").read_text("utf-8")
    assert f"upstream/{release}/kubeflow-manifests/applications/kserve/kserve/kustomization.yaml" in lock
    again = run("build", "-f", str(overlays.parent / "stack.yaml"), "--check", "--upstream", f"{release}={MIRRORS[release]}")
    assert again.returncode == 0, again.stderr
    # Outside the repository, engine objects name only the add-on charts' Helm repositories.
    urls = set(re.findall(r"(?:repoURL|url): (\S+)", "".join(p.read_text("utf-8") for p in (overlays / "gitops").rglob("*.yaml"))))
    assert urls <= {"https://git.lab.internal/ml/platform.git", "https://charts.external-secrets.io", "https://helm.ngc.nvidia.com/nvidia"}, urls


def test_vendored_build_without_a_mirror_is_a_located_error_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(_VENDORED_STACK.replace("RELEASE", "26.03"))
    done = run("build", "-f", str(tmp_path / "stack.yaml"), "--upstream", f"{OLD}={MIRRORS[OLD]}",
               env=environment(XDG_CACHE_HOME=str(tmp_path / "cache"), STACKGEN_UPSTREAM=""))
    assert done.returncode == 2, done.stderr
    assert f"{tmp_path / 'stack.yaml'}:5:39: error: upstream.mode vendored needs the upstream mirror at build time" in done.stderr
    assert "[SG704]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "overlays").exists()


# --- a fleet on two releases: render, promote, plan ------------------------------------------

WAVES = ROOT / "tests" / "cases" / "positive" / "rollout-waves" / "stack.yaml"


def test_a_fleet_in_waves_renders_per_release_and_plans_the_promotion(tmp_path: Path) -> None:
    """Canary on 26.03, the rest on v1.11.0: one render maps each release onto its own mirror and
    each cluster's golden records its own pin; promoting the rest (and dropping KServe from it)
    is planned against the v1.11.0 render, and the plan names what prune deletes."""
    shutil.copy(WAVES, tmp_path / "stack.yaml")
    env = environment(XDG_CACHE_HOME=str(tmp_path / "cache"))
    both = ["--upstream", f"26.03={MIRRORS['26.03']}", "--upstream", f"{OLD}={MIRRORS[OLD]}"]
    assert run("build", "-f", str(tmp_path / "stack.yaml"), env=env).returncode == 0
    done = run("render", "-f", str(tmp_path / "stack.yaml"), *both, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    pins = {c: yaml.safe_load((tmp_path / "golden" / c / "index.yaml").read_text("utf-8"))["upstream"]["kubeflow"]
            for c in ("gcp-canary", "gcp-train", "gcp-serve")}
    assert pins == {"gcp-canary": "26.03", "gcp-train": OLD, "gcp-serve": OLD}
    promoted = WAVES.read_text("utf-8").replace("revision: fleet-v1.11.0}", 'revision: fleet-v1.11.0, kubeflow: "26.03"}')
    (tmp_path / "stack.yaml").write_text(promoted.replace("    kserve: {runsOn: [serving]}\n", ""))
    assert run("build", "-f", str(tmp_path / "stack.yaml"), env=env).returncode == 0
    done = run("plan", "-f", str(tmp_path / "stack.yaml"), "--format", "json", *both, env=env, timeout=900)
    assert done.returncode == 1, done.stderr
    plans = {p["cluster"]: p for p in json.loads(done.stdout)}
    assert plans["gcp-canary"]["note"] == "no release change"
    assert (plans["gcp-train"]["old"], plans["gcp-train"]["new"]) == (OLD, "26.03")
    serve = {(i["code"], i["resource"]) for i in plans["gcp-serve"]["items"]}
    assert ("SG801", "apiextensions.k8s.io/v1/CustomResourceDefinition//inferenceservices.serving.kserve.io") in serve
    assert all(i["action"] for i in plans["gcp-serve"]["items"])
    done = run("plan", "-f", str(tmp_path / "stack.yaml"), "--format", "markdown", *both, env=env, timeout=900)
    assert done.returncode == 1 and done.stdout.startswith("### stackgen plan\n"), done.stderr
    assert "| `gcp-serve` | v1.11.0 → 26.03 |" in done.stdout and "| SG801 | `apiextensions.k8s.io/v1/CustomResourceDefinition//" in done.stdout
    # diff gives the same promotion field by field, the old release rendered from its mirror.
    done = run("diff", "-f", str(tmp_path / "stack.yaml"), "--format", "json", *both, env=env, timeout=900)
    assert done.returncode == 1, done.stderr
    train = next(d for d in json.loads(done.stdout) if d["cluster"] == "gcp-train")
    assert any(f"upstream pin changed {OLD} -> 26.03" in note for note in train["notes"])
    images = {(f["old"], f["new"]) for c in train["changes"] if c["resource"] == "apps/v1/Deployment/kubeflow/ml-pipeline-ui"
              for f in c["fields"] if f["path"] == "spec.template.spec.containers[0].image"}
    assert images == {("ghcr.io/kubeflow/kfp-frontend:2.15.0", "ghcr.io/kubeflow/kfp-frontend:2.16.0")}
    # Without the old release's mirror, diff and plan say what they cannot compare and how to get it.
    only_new = ["--upstream", f"26.03={MIRRORS['26.03']}"]
    alone = environment(XDG_CACHE_HOME=str(tmp_path / "cache"), STACKGEN_UPSTREAM="")
    done = run("diff", "-f", str(tmp_path / "stack.yaml"), "--format", "json", *only_new, env=alone, timeout=900)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    train = next(d for d in json.loads(done.stdout) if d["cluster"] == "gcp-train")
    assert f"upstream pin changed {OLD} -> 26.03: {OLD} is not in the mirror, so upstream resources differ by hash only; " \
           f"run `stackgen vendor --from DIR --pin {OLD}` for field-level changes" in train["notes"]
    done = run("plan", "-f", str(tmp_path / "stack.yaml"), "--format", "json", *only_new, env=alone, timeout=900)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    notes = {p["cluster"]: p["note"] for p in json.loads(done.stdout)}
    assert notes["gcp-train"] == notes["gcp-serve"] == (f"kubeflow/manifests {OLD} is not vendored: `stackgen vendor --from DIR --pin {OLD}` "
                                                        f"(or --upstream {OLD}=DIR), then plan again")
    assert notes["gcp-canary"] == "no release change"


def test_a_vendored_fleet_in_waves_writes_each_release_it_runs(tmp_path: Path, kustomize: kz.Kustomize) -> None:
    text = WAVES.read_text("utf-8").replace("  upstream: {kubeflow: v1.11.0}", "  upstream: {kubeflow: v1.11.0, mode: vendored}")
    (tmp_path / "stack.yaml").write_text(text)
    done = run("build", "-f", str(tmp_path / "stack.yaml"), "--upstream", f"26.03={MIRRORS['26.03']}", "--upstream", f"{OLD}={MIRRORS[OLD]}",
               env=environment(XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "overlays" / "upstream").iterdir()) == ["26.03", OLD]
    served = _offline_build(kustomize, tmp_path / "overlays" / "clusters" / "gcp-serve")  # the v1.11.0 wave
    assert ("Deployment", "kserve-controller-manager") in {(r["kind"], r["metadata"]["name"]) for r in served}
