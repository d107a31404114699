"""One cluster's failure blocks no other, and never costs it the goldens it had.

Real renders on small clusters (spark, training-operator) against copies of the pinned mirror:
one copy pins an image to `latest` (verify fails), one lacks a path a unit needs (kustomize fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.upstream import UPSTREAM, requires_upstream

pytestmark = [requires_upstream, pytest.mark.upstream]

STACK = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: failures}
spec:
  gitops: {engine: argocd, repoURL: "https://github.com/acme/ml.git"}
  clusters:
    - {name: spark-a, cloud: onprem, region: lab, kubernetesVersion: "1.31", roles: [training]}
    - {name: tfjob-b, cloud: onprem, region: lab, kubernetesVersion: "1.31", roles: [training]}
  components:
    spark: {runsOn: [spark-a]}
    training-operator: {runsOn: [tfjob-b]}
"""
OPERATOR = "applications/training-operator/upstream/overlays/kubeflow/kustomization.yaml"
SPARK = "applications/spark/spark-operator/overlays/kubeflow/kustomization.yaml"


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackgen", *args, "-f", str(project / "stack.yaml")],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=600)


def _mirror(target: Path, edit: str | None = None, remove: str | None = None) -> Path:
    shutil.copytree(UPSTREAM, target, symlinks=True)
    manifests = target / "kubeflow-manifests"
    if edit:
        file = manifests / edit
        text = file.read_text()
        assert "newTag: v1-3f15cb8" in text
        file.write_text(text.replace("newTag: v1-3f15cb8", "newTag: latest"))
    if remove:
        (manifests / remove).unlink()
    return target


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_failing_cluster_keeps_its_goldens_and_the_others_are_written(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "stack.yaml").write_text(STACK)
    assert _cli(project, "build").returncode == 0
    golden = project / "golden"
    latest = _mirror(tmp_path / "latest", edit=OPERATOR)
    broken = _mirror(tmp_path / "broken", remove=SPARK)

    # Into an empty golden folder: the cluster that fails kustomize, or verify, gets none; the other its own.
    unbuilt = _cli(project, "render", "--upstream", str(broken))
    assert unbuilt.returncode == 1
    assert "kustomize build failed for cluster spark-a" in unbuilt.stderr
    assert "golden updated for tfjob-b; golden kept for spark-a (failed)" in unbuilt.stdout
    assert sorted(p.name for p in golden.iterdir() if p.is_dir()) == ["tfjob-b"]
    shutil.rmtree(golden)
    failed = _cli(project, "render", "--upstream", str(latest))
    assert failed.returncode == 1, failed.stderr
    assert "`latest` is a tag that moves" in failed.stderr and "[SG611]" in failed.stderr
    assert "golden updated for spark-a; golden kept for tfjob-b (failed)" in failed.stdout
    assert sorted(p.name for p in golden.iterdir() if p.is_dir()) == ["spark-a"]

    fine = _cli(project, "render", "--upstream", str(UPSTREAM))
    assert fine.returncode == 0, fine.stderr
    reviewed = _tree(golden)
    assert {path.split("/")[0] for path in reviewed if "/" in path} == {"spark-a", "tfjob-b"}

    # Later failures, of verify or of kustomize, leave every golden file as it was.
    for mirror, failing in ((latest, "tfjob-b"), (broken, "spark-a")):
        again = _cli(project, "render", "--upstream", str(mirror))
        assert again.returncode == 1
        assert f"golden kept for {failing} (failed)" in again.stdout and "golden up to date" in again.stdout
        assert _tree(golden) == reviewed
        check = _cli(project, "render", "--check", "--upstream", str(mirror))
        assert check.returncode == 1 and _tree(golden) == reviewed
