"""images: reference parsing, finding images in free text, and the mirror rewrite through real kustomize."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackgen import kustomize as kz
from stackgen import verify
from stackgen.compile import images
from stackgen.render import ClusterRender
from tests import image_catalog

MIRROR = "registry.acme.internal:5000/kubeflow"


@pytest.mark.parametrize(
    ("image", "mirrored"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
        ("kserve/agent:v0.16.0", "docker.io/kserve/agent:v0.16.0"),
        ("quay.io/brancz/kube-rbac-proxy:v0.18.0", "quay.io/brancz/kube-rbac-proxy:v0.18.0"),
        ("localhost:5000/x@sha256:" + "a" * 64, "localhost:5000/x@sha256:" + "a" * 64),
        ("gcr.io/a/b:v1@sha256:" + "b" * 64, "gcr.io/a/b:v1@sha256:" + "b" * 64),
    ],
)
def test_mirrored_keeps_the_source_registry_in_the_path(image: str, mirrored: str) -> None:
    assert images.mirrored(image, MIRROR) == f"{MIRROR}/{mirrored}"
    assert images.source_of(images.mirrored(image, MIRROR), MIRROR) == mirrored
    assert images.in_mirror(images.mirrored(image, MIRROR), MIRROR)
    assert not images.in_mirror(image, MIRROR)


_NAME = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z]{2,4})?(/[a-z0-9-]{1,8}){0,3}", fullmatch=True)
_TAG = st.one_of(st.just(""), st.from_regex(r":[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,10}", fullmatch=True),
                 st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True))


@settings(max_examples=200, deadline=None)
@given(_NAME, _TAG, _TAG)
def test_split_and_mirror_round_trip(name: str, tag: str, other: str) -> None:
    image = name + tag
    assert images.split(image) == (name, tag)
    assert images.source_of(images.mirrored(image, MIRROR), MIRROR) == images.qualified(name) + tag


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("--executor-image=quay.io/argoproj/argoexec:v3.7.3", ["quay.io/argoproj/argoexec:v3.7.3"]),
        ('{\n  "image" : "kserve/agent:v0.16.0",\n  "memoryRequest": "100Mi"\n}', ["kserve/agent:v0.16.0"]),
        ('{"image": "kserve/art-explainer", "defaultImageVersion": "latest"}', ["kserve/art-explainer"]),
        ("image:\n  value: ghcr.io/k/x:v1\n  options:\n  - ghcr.io/k/x:v1\n", ["ghcr.io/k/x:v1", "ghcr.io/k/x:v1"]),
        ("see https://github.com/kubeflow/manifests:main and /usr/bin/env:x", []),
        ('"imagePullPolicy": "IfNotPresent"', []),
        ("a plain sentence: nothing/here", []),
    ],
)
def test_images_in_free_text(text: str, found: list[str]) -> None:
    assert images.images_in(text) == found


def test_image_refs_skip_metadata_and_documentation_keys() -> None:
    config = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "inferenceservice-config", "namespace": "kubeflow", "annotations": {"a": "ghcr.io/x/y:1"}},
        "data": {"_example": '"image" : "kserve/agent:v1"', "agent": '{"image" : "kserve/agent:v1"}'},
    }
    assert [(r.image, r.path) for r in images.image_refs(config)] == [("kserve/agent:v1", "$.data.agent")]


def test_segments_cover_every_occurrence_and_never_undo_another_image() -> None:
    value = 'a="ghcr.io/k/x:v1 ghcr.io/k/y:v2" b=ghcr.io/k/x:v1'
    resource = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c-bcdfghjklm"}, "data": {"v": value}}
    found = image_catalog.embedded(resource, lambda image: False)
    assert all(e.name == "c" for e in found)  # selected by its generated name, before the hash suffix
    covered = value
    for entry in found:
        parts = covered.split(entry.delimiter) if entry.delimiter else [covered]
        parts[entry.index] = images.replaced(entry, MIRROR)
        covered = entry.delimiter.join(parts) if entry.delimiter else parts[0]
    assert images.images_in(covered) and all(images.in_mirror(i, MIRROR) for i in images.images_in(covered))


# --- the rewrite, end to end through real kustomize ----------------------------------------

_UPSTREAM = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ctl", "namespace": "kf"},
     "spec": {"selector": {"matchLabels": {"app": "ctl"}}, "template": {"metadata": {"labels": {"app": "ctl"}}, "spec": {
         "containers": [{"name": "ctl", "image": "kserve/kserve-controller:v0.16.0",
                         "args": ["--executor-image=quay.io/argoproj/argoexec:v3.7.3", "--v=2"],
                         "env": [{"name": "DRIVER", "value": "ghcr.io/kubeflow/kfp-driver:2.16.0"}]}],
         "initContainers": [{"name": "init", "image": "busybox:1.36"}]}}}},
    {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer", "metadata": {"name": "default"},
     "spec": {"container": {"name": "storage-initializer", "image": "kserve/storage-initializer:v0.16.0"}}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inferenceservice-config", "namespace": "kubeflow"},
     "data": {"_example": '"image" : "kserve/agent:v0.16.0"',
              "agent": '{\n    "image" : "kserve/agent:v0.16.0",\n    "memoryRequest": "100Mi"\n}',
              "ui.yaml": "image:\n  value: ghcr.io/k/nb:v1\n  options:\n  - ghcr.io/k/nb:v1\n  - ghcr.io/k/other:v1\n"}},
]


def _build(kustomize: kz.Kustomize, root: Path, extra: dict) -> list[dict]:
    (root / "base").mkdir(parents=True, exist_ok=True)
    (root / "base" / "all.yaml").write_text(yaml.safe_dump_all(_UPSTREAM))
    (root / "base" / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["all.yaml"]}))
    (root / "unit").mkdir(exist_ok=True)
    (root / "unit" / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["../base"], **extra}))
    return [r for r in yaml.load_all(kz.build(kustomize, root / "unit"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if r]


def test_rewrite_reaches_every_image_and_changes_nothing_else(kustomize: kz.Kustomize, tmp_path: Path) -> None:
    names = image_catalog.container_names(_UPSTREAM)
    probe = "mirror.stackgen.invalid"
    after_images = _build(kustomize, tmp_path / "probe", {"images": [{"name": n, "newName": images.mirrored_name(n, probe)} for n in names]})
    entry = image_catalog.catalog_entry(names, after_images, probe)
    assert {e.kind for e in entry.embedded} == {"Deployment", "ClusterStorageContainer", "ConfigMap"}

    rendered = _build(kustomize, tmp_path / "mirrored", images.unit_rewrites(entry, MIRROR))
    cluster = ClusterRender("c", "clusters/c", tuple(rendered), ("units/u",) * len(rendered))
    assert [p for p in verify.verify(cluster, "1.31", None, frozenset(), MIRROR) if p.code == "SG617"] == []
    config = next(r for r in rendered if r["kind"] == "ConfigMap")
    assert "_example" not in config["data"]
    assert json.loads(config["data"]["agent"]) == {"image": f"{MIRROR}/docker.io/kserve/agent:v0.16.0", "memoryRequest": "100Mi"}
    assert yaml.safe_load(config["data"]["ui.yaml"]) == {"image": {
        "value": f"{MIRROR}/ghcr.io/k/nb:v1", "options": [f"{MIRROR}/ghcr.io/k/nb:v1", f"{MIRROR}/ghcr.io/k/other:v1"]}}
    deployment = next(r for r in rendered if r["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == [f"--executor-image={MIRROR}/quay.io/argoproj/argoexec:v3.7.3", "--v=2"]
    assert deployment["spec"]["template"]["spec"]["initContainers"][0]["image"] == f"{MIRROR}/docker.io/library/busybox:1.36"


def test_verify_flags_an_image_outside_the_mirror() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ml"},
           "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": f"{MIRROR}/docker.io/library/nginx:1.27"}]}}
    cluster = ClusterRender("c", "clusters/c", (pod,), ("clusters/c/own",))
    problems = [p for p in verify.verify(cluster, "1.31", None, frozenset(), MIRROR) if p.code == "SG617"]
    assert [(p.path, p.severity) for p in problems] == [("$.spec.containers[0].image", "error")]
    assert [p for p in verify.verify(cluster, "1.31", None, frozenset()) if p.code == "SG617"] == []


def test_listing_names_sources_and_targets() -> None:
    listing = {"c": images.pulled(_UPSTREAM, MIRROR)}
    text = images.render_text(listing)
    assert text.splitlines()[0] == "# c: 8 images"
    assert f"docker.io/kserve/agent:v0.16.0 {MIRROR}/docker.io/kserve/agent:v0.16.0" in text.splitlines()
    body = json.loads(images.render_json(listing))
    agent = next(i for i in body["c"] if i["source"] == "docker.io/kserve/agent:v0.16.0")
    assert [r["path"] for r in agent["references"]] == ["$.data.agent"]
