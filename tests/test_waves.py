"""Rollout waves: each cluster in one wave, a wave's release and git revision, units per release."""

from __future__ import annotations

import re

import yaml

from stackgen import codes, releases
from tests.compiling import CASES, checked, compiled

WAVES = CASES / "positive" / "rollout-waves" / "stack.yaml"


def test_a_wave_naming_a_cluster_wins_over_a_wave_selecting_its_role() -> None:
    stack = checked(WAVES).stack
    assert stack is not None
    waves = {c.name: (c.wave, c.release, c.revision) for c in stack.clusters}
    assert waves == {"gcp-canary": ("canary", "26.03", "main"), "gcp-train": ("rest", "v1.11.0", "fleet-v1.11.0"),
                     "gcp-serve": ("rest", "v1.11.0", "fleet-v1.11.0")}


def test_units_never_mix_releases_and_the_fleets_keep_their_names() -> None:
    files = compiled(WAVES)
    for path, content in files.items():
        if path.startswith("units/") and path.endswith("/kustomization.yaml"):
            refs = set(re.findall(r"\?ref=(\S+)", content.decode()))
            assert len(refs) <= 1, (path, refs)
            if refs:
                assert path.split("/")[1].endswith("-26.03") == (refs == {"26.03"}), path
    assert "units/pipelines/kustomization.yaml" in files and "units/pipelines-26.03/kustomization.yaml" in files
    canary = yaml.safe_load(files["clusters/gcp-canary/kustomization.yaml"])
    assert "../../units/pipelines-gcp-canary" in canary["resources"] and "../../units/istio-gcp-26.03" in canary["resources"]


def test_engine_objects_follow_the_waves_revision_and_carry_its_label() -> None:
    files = compiled(WAVES)
    canary = yaml.safe_load(files["gitops/flux/gcp-canary/gitrepository.yaml"])
    rest = yaml.safe_load(files["gitops/flux/gcp-train/gitrepository.yaml"])
    assert canary["spec"]["ref"] == {"branch": "main"} and rest["spec"]["ref"] == {"branch": "fleet-v1.11.0"}
    for path, content in files.items():
        if path.startswith("gitops/flux/gcp-serve/") and not path.endswith("/kustomization.yaml"):
            assert yaml.safe_load(content)["metadata"]["labels"]["stackgen.io/wave"] == "rest", path


def test_promoting_the_rest_is_one_edit() -> None:
    text = WAVES.read_text("utf-8").replace("revision: fleet-v1.11.0}", 'revision: main, kubeflow: "26.03"}')
    spec = yaml.safe_load(text)["spec"]
    assert not releases.wave_findings(spec)
    assert {a.release for a in releases.assign(spec).values()} == {"26.03"}


def test_a_later_wave_on_a_newer_release_is_refused() -> None:
    spec = yaml.safe_load(WAVES.read_text("utf-8"))["spec"]
    spec["rollout"]["waves"].reverse()  # the v1.11.0 wave first, then 26.03: backwards
    [finding] = releases.wave_findings(spec)
    assert finding.code == "SG253" and finding.path == ("spec", "rollout", "waves", 1, "kubeflow")


def test_every_wave_code_is_registered() -> None:
    expected = (CASES / "negative" / "rollout-wave-errors" / "expected.txt").read_text("utf-8")
    assert set(re.findall(r"\[(SG25\d)\]", expected)) == {c for c, entry in codes.CODES.items() if entry.emitted_by == ("releases",)}
