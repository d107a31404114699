"""verify: each check catches its defect and passes its fix (no kustomize needed)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from stackgen import verify
from stackgen.render import ClusterRender
from tests.upstream import UPSTREAM, requires_upstream

Resource = dict[str, t.Any]


def _deployment(name: str = "web", image: str = "nginx:1.27", **spec: t.Any) -> Resource:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ml"},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
                 "spec": {"containers": [{"name": "c", "image": image, **spec.pop("container", {})}], **spec}}},
    }


def _codes(resources: list[Resource], origins: list[str] | None = None, declared: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    render = ClusterRender("c1", "clusters/c1", tuple(resources), tuple(origins or ["clusters/c1/own"] * len(resources)))
    return [(p.code, p.severity) for p in verify.verify(render, "1.31", None, declared)]


def test_a_valid_deployment_passes() -> None:
    assert _codes([_deployment()]) == []


def test_schema_violation_names_the_path() -> None:
    broken = _deployment()
    broken["spec"]["replicas"] = "three"
    render = ClusterRender("c1", "clusters/c1", (broken,), ("units/x",))
    [problem] = verify.verify(render, "1.31", None, frozenset())
    assert (problem.code, problem.path, problem.resource) == ("SG602", "$.spec.replicas", "apps/v1/Deployment/ml/web")
    assert problem.render().startswith("clusters/c1: error: apps/v1/Deployment/ml/web: $.spec.replicas:")


def test_unknown_kind_is_a_warning_never_silence() -> None:
    assert _codes([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}]) == [("SG601", "warning")]


def test_custom_resource_validated_against_its_crd_from_the_render() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]},
    }
    good = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    bad = {**good, "metadata": {"name": "v"}, "spec": {"size": "big"}}
    assert _codes([crd, good, bad], ["units/u"] * 3) == [("SG602", "error")]


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "registry.example.com:5000/team/app"])
def test_unpinned_images_fail(image: str) -> None:
    assert _codes([_deployment(image=image)]) == [("SG611", "error")]


@pytest.mark.parametrize("image", ["nginx:1.27", "registry.example.com:5000/team/app:2", "app@sha256:" + "a" * 64])
def test_pinned_images_pass(image: str) -> None:
    assert _codes([_deployment(image=image)]) == []


def test_duplicate_ids() -> None:
    assert _codes([_deployment(), _deployment()]) == [("SG610", "error")]


def test_gpu_workload_must_request_gpus() -> None:
    toleration = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert _codes([_deployment(tolerations=toleration)]) == [("SG612", "error")]
    fixed = _deployment(tolerations=toleration, container={"resources": {"limits": {"nvidia.com/gpu": 1}}})
    assert _codes([fixed]) == []


def test_authored_secret_with_literal_data() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ml"}, "data": {"k": "dg=="}}
    assert _codes([secret]) == [("SG613", "error")]
    assert _codes([secret], ["units/dex"]) == []  # upstream's own Secrets are another check's business


def test_unresolved_kustomize_var_but_not_container_env() -> None:
    crd_like = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ml", "annotations": {"x": "$(CERTIFICATE_NAME)"}}}
    env = _deployment(container={"args": ["--ns=$(POD_NAMESPACE)"]})
    assert _codes([crd_like, env], declared=frozenset({"CERTIFICATE_NAME"})) == [("SG614", "error")]


def test_ca_injection_must_come_from_the_same_unit() -> None:
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "pvc-cert", "namespace": "kubeflow"},
                   "spec": {"secretName": "s", "issuerRef": {"name": "i"}}}
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "w", "annotations": {"cert-manager.io/inject-ca-from": "kubeflow/pvc-cert"}}, "webhooks": []}
    render = ClusterRender("c1", "clusters/c1", (certificate, webhook), ("units/volumes", "units/trainer"))
    codes = [p.code for p in verify.verify(render, "1.31", None, frozenset())]
    assert "SG615" in codes
    same = ClusterRender("c1", "clusters/c1", (certificate, webhook), ("units/volumes", "units/volumes"))
    assert "SG615" not in [p.code for p in verify.verify(same, "1.31", None, frozenset())]


@requires_upstream
def test_engine_objects_are_checked_against_the_mirror_crds() -> None:
    bad = b"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: r, namespace: flux-system}\nspec: {interval: 5m, url: 'git@h:o/r.git'}\n"
    [problem] = verify.verify_engine_objects({"gitops/flux/c1/gitrepository.yaml": bad}, UPSTREAM / "crds")
    assert (problem.code, problem.cluster, problem.path) == ("SG603", "c1", "$.spec.url")


@requires_upstream
def test_engine_objects_are_checked_for_the_clusters_rendered_and_once_per_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """`render --cluster c2` checks c2's objects, not the fleet's; a warm render answers from
    the cache, so an unchanged cluster costs a digest."""
    bad = b"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: r, namespace: flux-system}\nspec: {interval: 5m, url: 'git@h:o/r.git'}\n"
    good = bad.replace(b"git@h:o/r.git", b"https://h/o/r.git")
    files = {"gitops/flux/c1/gitrepository.yaml": bad, "gitops/flux/c2/gitrepository.yaml": good}
    assert verify.verify_engine_objects(files, UPSTREAM / "crds", {"c2"}) == []
    first = verify.verify_engine_objects(files, UPSTREAM / "crds")
    assert [(p.cluster, p.code) for p in first] == [("c1", "SG603")]

    def no_schema(_: Path) -> t.NoReturn:
        raise AssertionError("an unchanged cluster's engine objects were checked again")

    monkeypatch.setattr(verify.crds, "schemas_from_dir", no_schema)
    assert verify.verify_engine_objects(files, UPSTREAM / "crds") == first
    changed = {**files, "gitops/flux/c2/gitrepository.yaml": bad}
    with pytest.raises(AssertionError, match="checked again"):
        verify.verify_engine_objects(changed, UPSTREAM / "crds")


def _secret(name: str, namespace: str, **data: str) -> dict[str, t.Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": data}


def test_sg618_a_default_credential_still_rendered_fails_without_showing_it() -> None:
    shipped = _secret("katib-mysql-secrets", "kubeflow", MYSQL_ROOT_PASSWORD="test")
    renamed = _secret("my-db", "ml", password="minio123")
    emptied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "katib-mysql-secrets", "namespace": "kubeflow"}}
    own = _secret("app", "ml", password="s3cr3t-of-our-own")
    render = ClusterRender("c", "clusters/c", (shipped, renamed, emptied, own), ("units/katib",) * 4)
    problems = [p for p in verify.verify(render, "1.31", None, frozenset()) if p.code == "SG618"]
    assert [(p.resource, p.path) for p in problems] == [
        ("v1/Secret/kubeflow/katib-mysql-secrets", "$.data"), ("v1/Secret/ml/my-db", "$.data.password"),
    ]
    assert not any(value in p.render() for p in problems for value in ("test", "minio123"))


# --- verified once per content: a warm render re-verifies only what changed -------------------


def test_a_render_verified_before_is_answered_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    broken = _deployment()
    broken["spec"]["replicas"] = "three"
    render = ClusterRender("c1", "clusters/c1", (broken,), ("units/x",), key="content-1")
    fresh = verify.verify(render, "1.31", None, frozenset())
    [entry] = (tmp_path / "stackgen" / "verify").iterdir()
    assert [p.code for p in fresh] == ["SG602"]
    # The same key is the same content: its answer comes back without validating anything.
    monkeypatch.setattr(verify, "_verify", lambda *_: pytest.fail("verified again"))
    assert verify.verify(render, "1.31", None, frozenset()) == fresh
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # Another key, version or mirror setting is another question, checked afresh.
    fixed = ClusterRender("c1", "clusters/c1", (_deployment(),), ("units/x",), key="content-2")
    assert verify.verify(fixed, "1.31", None, frozenset()) == []
    assert [p.code for p in verify.verify(render, "1.31", None, frozenset(), registry_mirror="r.example/m")] == ["SG602", "SG617"]
    # A damaged entry costs a fresh verify, never a wrong answer.
    entry.write_text("[{\"not\": \"a problem\"}]")
    assert verify.verify(render, "1.31", None, frozenset()) == fresh


def test_a_render_without_a_content_key_is_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    verify.verify(ClusterRender("c1", "clusters/c1", (_deployment(),), ("units/x",)), "1.31", None, frozenset())
    assert not (tmp_path / "stackgen").exists()
