"""compile: unit variants, self-contained clusters, purity and determinism."""

from __future__ import annotations

import copy
import posixpath
import typing as t

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stackgen import catalog
from stackgen.compile.overlays import Compiled, compile_stack
from stackgen.model import ROLES, build_model
from stackgen.place import place
from tests import reach
from tests.compiling import BUNDLED, ROOT, placed

CLOUDS = ("aws", "gcp", "azure", "onprem")


def _kustomization(files: dict[str, bytes], path: str) -> dict[str, t.Any]:
    return yaml.safe_load(files[path])


def test_units_are_shared_and_variants_named_by_what_varies() -> None:
    stack, placement = placed(BUNDLED.read_text())
    files = compile_stack(stack, placement).files
    units = sorted({p.split("/")[1] for p in files if p.startswith("units/")})
    assert "istio-aws" in units and "istio-azure" in units
    assert "auth-aws-use1" in units and "auth" in units
    assert "kserve" in units and "kserve-edge-store17" in units  # edge, with the site's own host
    assert "istio-gcp-euw4" in units and "istio-gcp" in units and "kserve-edge" in units
    gcp = _kustomization(files, "units/istio-gcp/kustomization.yaml")
    assert any("istio-install/overlays/gke" in r for r in gcp["resources"])
    assert gcp["components"] == ["../../components/gcp"]
    edge = _kustomization(files, "units/kserve-edge/kustomization.yaml")
    assert edge["resources"] == [catalog.remote_url("applications/kserve/kserve", "26.03")]
    assert edge["components"] == ["../../components/edge"]
    # A cluster's own value never makes a large component per cluster: a small unit over the
    # shared one patches one named object (issue 19).
    for small, shared in (("istio-gcp-euw4", "istio-gcp"), ("kserve-edge-store17", "kserve-edge"), ("auth-aws-use1", "auth-aws")):
        body = _kustomization(files, f"units/{small}/kustomization.yaml")
        assert body["resources"][0] == f"../{shared}" and "components" not in body
        assert [patch["target"]["kind"] for patch in body["patches"]] in (["Gateway"], ["ConfigMap"], ["RequestAuthentication"])


def test_cluster_kustomization_adds_no_transformer() -> None:
    stack, placement = placed(BUNDLED.read_text())
    files = compile_stack(stack, placement).files
    for plan in placement.plans:
        body = _kustomization(files, f"clusters/{plan.cluster.name}/kustomization.yaml")
        assert set(body) == {"apiVersion", "kind", "resources"}
        assert body["resources"][-1] == "own"
        assert [r.split("/")[-1].split("-")[0] for r in body["resources"][:-1]] == [
            n.split("-")[0] for n in plan.component_names
        ]


def test_no_cluster_name_is_stamped_into_a_shared_unit() -> None:
    stack, placement = placed(BUNDLED.read_text())
    files = compile_stack(stack, placement).files
    names = [c.name for c in stack.clusters]
    for path, content in files.items():
        # Per-cluster units (`<component>-<cluster>`) carry that cluster's values by design.
        if path.startswith("units/") and not any(path.split("/")[1].endswith(f"-{n}") for n in names):
            assert not any(n in content.decode() for n in names), path


def test_upstream_is_referenced_only_as_pinned_remote_bases() -> None:
    stack, placement = placed(BUNDLED.read_text())
    for path, content in compile_stack(stack, placement).files.items():
        body = yaml.safe_load(content)
        for resource in body.get("resources", []) if path.endswith("kustomization.yaml") else []:
            local_file = "/" not in resource and resource.endswith(".yaml")
            assert local_file or resource == "own" or resource.startswith(("../", "https://github.com/kubeflow/manifests//")), resource
            if resource.startswith("https://"):
                assert resource.endswith("?ref=26.03")


def test_trainer_unit_drops_the_misdirected_ca_injection() -> None:
    stack, placement = placed(BUNDLED.read_text())
    body = _kustomization(compile_stack(stack, placement).files, "units/trainer/kustomization.yaml")
    [fix] = body["patches"]
    assert fix["target"]["name"] == "jobsets.jobset.x-k8s.io"
    assert "inject-ca-from" in fix["patch"]


# --- properties ---------------------------------------------------------------------------

_names = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), min_size=1, max_size=6, unique=True)


@st.composite
def stacks(draw: st.DrawFn) -> dict[str, t.Any]:
    names = [n for n in draw(_names) if n not in ROLES]
    assume(names)
    clusters = []
    for name in names:
        cloud = draw(st.sampled_from(CLOUDS))
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
        roles = ["edge"] if "edge" in roles else roles  # an edge site is only that: central roles would select it
        cluster = {"name": name, "cloud": cloud, "region": "r1", "kubernetesVersion": "1.31", "roles": roles}
        if cloud == "aws":
            cluster["oidcIssuer"] = "https://oidc.eks.r1.amazonaws.com/id/ABC"
        if cloud == "gcp":  # the project of its Secret Manager comes from the service account
            cluster["identity"] = {"gcpServiceAccount": f"{name}@proj-1.iam.gserviceaccount.com"}
        clusters.append(cluster)
    selectors = list(ROLES) + names
    # Only KServe runs at the edge (SG402 otherwise): other components select the rest.
    edge = {c["name"] for c in clusters if "edge" in c["roles"]}
    central = [s for s in selectors if s != "edge" and s not in edge] or ["training"]
    requested = draw(st.lists(st.sampled_from(catalog.NAMES), max_size=6, unique=True))
    components = {c: {"runsOn": draw(st.lists(st.sampled_from(selectors if c == "kserve" else central), min_size=1, max_size=3, unique=True))}
                  for c in requested}
    # Azure and on-prem stores cannot be found without stack.yaml saying where (SG407): Vault.
    storeless = [c["name"] for c in clusters if c["cloud"] in ("azure", "onprem")]
    secrets = [{"name": d.name, "namespace": d.namespace, "store": "vault", "key": f"https://vault.x:8200/secret/{d.namespace}/{d.name}",
                "runsOn": storeless, "auth": {"secretRef": {"name": "vault-token"}}} for d in catalog.DEFAULT_CREDENTIALS] if storeless else []
    training = [c for c in clusters if "training" in c["roles"] and "edge" not in c["roles"]]
    # Each dataset in its own cloud's store, the model on a hub every cloud reads (SG409 otherwise).
    home = {"aws": "s3://b/p", "gcp": "gs://b/p", "azure": "az://c/p", "onprem": "pvc://data"}
    datasets = [{"name": f"d{i}", "uri": home[c["cloud"]], "cluster": c["name"], "size": "1Ti"} for i, c in enumerate(training)]
    jobs = [{"name": f"j{i}", "dataset": d["name"], "image": "x:1"} for i, d in enumerate(datasets)]
    # A model served nowhere is refused (SG205): serveOn names roles some cluster has, or clusters.
    held = [r for r in ROLES if any(r in c["roles"] for c in clusters)] + names
    models = [{"name": "m", "storageUri": "hf://acme/m", "format": "onnx",
               "serveOn": draw(st.lists(st.sampled_from(held), min_size=1, max_size=2, unique=True))}]
    return {
        "apiVersion": "stackgen.io/v1alpha1",
        "kind": "Stack",
        "metadata": {"name": "p"},
        "spec": {
            "gitops": {"engine": "argocd", "repoURL": "https://g/x.git"},
            "clusters": clusters,
            "components": components,
            "datasets": datasets,
            "trainingJobs": jobs,
            "models": models,
            "secrets": secrets,
        },
    }


def _compile(tree: dict[str, t.Any]) -> tuple[dict[str, bytes], t.Any]:
    stack = build_model(tree)
    placement = place(stack)
    return compile_stack(stack, placement).files, placement


def _refused(placement: t.Any) -> bool:
    """The driver compiles a placement whose findings are warnings at most."""
    return any(f.severity == "error" for f in placement.findings)


_PROPERTIES = settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@reach.reaching("compile", floor=0.9)
@_PROPERTIES
@given(stacks(), st.randoms(use_true_random=False))
def test_compile_is_deterministic_and_ignores_declaration_order(tree: dict[str, t.Any], rnd: t.Any) -> None:
    first, placement = _compile(tree)
    reach.example(not _refused(placement))
    if _refused(placement):
        return
    assert _compile(tree)[0] == first
    shuffled = yaml.safe_load(yaml.safe_dump(tree))
    rnd.shuffle(shuffled["spec"]["clusters"])
    items = list(shuffled["spec"]["components"].items())
    rnd.shuffle(items)
    shuffled["spec"]["components"] = dict(items)
    assert _compile(shuffled)[0] == first


@reach.reaching("compile", floor=0.9)
@_PROPERTIES
@given(stacks())
def test_placement_invariants_hold_in_the_compiled_tree(tree: dict[str, t.Any]) -> None:
    files, placement = _compile(tree)
    reach.example(not _refused(placement))
    if _refused(placement):
        return
    stack = build_model(tree)
    for job in stack.training_jobs:  # every job lands on its dataset's cluster, and only there
        hosts = [p.cluster.name for p in placement.plans if job in p.training_jobs]
        assert hosts == [stack.dataset(job.dataset).cluster]
    for model in stack.models:  # every model on every cluster its serveOn selects
        selected = {c.name for c in stack.clusters if set(model.serve_on) & ({c.name} | set(c.roles))}
        assert {p.cluster.name for p in placement.plans if model in p.models} == selected
    for plan in placement.plans:
        resources = yaml.safe_load(files[f"clusters/{plan.cluster.name}/kustomization.yaml"])["resources"]
        unit_names = {r.rsplit("/", 1)[-1] for r in resources[:-1]}
        if plan.training_jobs:
            assert "trainer" in unit_names
        if plan.models:
            assert any(u.startswith("kserve") for u in unit_names)
        if plan.cluster.is_edge:
            assert not any(u.split("-")[0] in {"istio", "knative", "auth"} for u in unit_names), unit_names
        for unit in unit_names:
            assert f"units/{unit}/kustomization.yaml" in files


def _dangling_references(files: dict[str, bytes]) -> list[str]:
    """Relative resources and components of every kustomization that name nothing in the tree."""
    folders = {path.rsplit("/", 1)[0] for path in files if path.endswith("/kustomization.yaml")}
    dangling = []
    for path, content in files.items():
        if not path.endswith("kustomization.yaml"):
            continue
        body = yaml.safe_load(content)
        for reference in [*body.get("resources", []), *body.get("components", [])]:
            if "://" in reference:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), reference))
            if target not in files and target not in folders:
                dangling.append(f"{path}: {reference}")
    return dangling


def test_the_bundled_tree_has_no_dangling_reference() -> None:
    files = compile_stack(*placed(BUNDLED.read_text())).files
    assert _dangling_references(files) == []
    assert _dangling_references({**files, "clusters/x/kustomization.yaml": b"resources: [../../units/nowhere]\n"}) == [
        "clusters/x/kustomization.yaml: ../../units/nowhere"]


_BUNDLED_TREE = yaml.safe_load(BUNDLED.read_text())
_ROLE_LISTS = st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)
_SELECTOR_LISTS = st.lists(st.sampled_from([*ROLES, *(c["name"] for c in _BUNDLED_TREE["spec"]["clusters"])]), min_size=1, max_size=3, unique=True)


def _values_seen(section: str, key: str) -> list[t.Any]:
    items = _BUNDLED_TREE["spec"][section]
    values = [item.get(key) for item in (items.values() if isinstance(items, dict) else items)]
    return sorted({v for v in values if isinstance(v, str | int) and not isinstance(v, bool)}, key=str)


def _plausible_value(section: str, key: str, current: t.Any) -> st.SearchStrategy[t.Any]:
    """A value of the kind the key holds, mostly one the bundled stack uses elsewhere: the edits
    move references between clusters, datasets and roles instead of breaking the shape."""
    if key == "roles":
        return _ROLE_LISTS
    if isinstance(current, list):
        return _SELECTOR_LISTS
    if isinstance(current, bool) or not isinstance(current, str | int):
        return st.just(current)
    if isinstance(current, int):
        return st.integers(0, 5)
    seen = _values_seen(section, key)
    return st.sampled_from(seen) if seen else st.just(current)


@reach.reaching("compile", floor=0.4)
@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_stack_that_validates_compiles_to_a_self_contained_tree(data: st.DataObject) -> None:
    """Whatever validate accepts, model and place handle (findings, never exceptions), and the
    tree compiled from it is deterministic and names no folder or file it does not hold."""
    from stackgen.diagnostics import has_errors
    from stackgen.load import load_bytes
    from stackgen.validate import validate

    tree = copy.deepcopy(_BUNDLED_TREE)
    for _ in range(data.draw(st.integers(1, 4))):
        section = data.draw(st.sampled_from(["clusters", "datasets", "trainingJobs", "models", "secrets", "components"]))
        node = tree["spec"][section]
        node = node[data.draw(st.sampled_from(sorted(node)))] if section == "components" else node[data.draw(st.integers(0, len(node) - 1))]
        key = data.draw(st.sampled_from(sorted(node)))
        node[key] = data.draw(_plausible_value(section, key, node[key]))
    loaded = load_bytes(yaml.safe_dump(tree).encode())
    compiled = not has_errors(validate(loaded))
    if compiled:
        stack = build_model(loaded.tree)
        placement = place(stack)
        compiled = not _refused(placement)
    reach.example(compiled)
    if compiled:
        result = compile_stack(stack, placement)
        files = result.files
        assert _dangling_references(files) == []
        assert _layout_mismatches(result) == []
        assert compile_stack(build_model(loaded.tree), place(build_model(loaded.tree))).files == files


def _layout_mismatches(compiled: Compiled) -> list[str]:
    """Where the layout compile hands render says something else than the YAML it wrote.

    Render builds from the layout alone (issue 16): this is what lets it stop parsing the YAML.
    """
    files, layout = compiled.files, compiled.layout
    found = []
    for cluster, paths in layout.clusters.items():
        body = yaml.safe_load(files[f"clusters/{cluster}/kustomization.yaml"])
        listed = tuple(posixpath.normpath(posixpath.join(f"clusters/{cluster}", r)) for r in body["resources"])
        if listed != paths:
            found.append(f"clusters/{cluster}: lists {listed}, layout says {paths}")
    for path, piece in layout.pieces.items():
        body = yaml.safe_load(files[f"{path}/kustomization.yaml"])
        resources = tuple(body.get("resources", ()))
        expected = ((f"../{piece.base.removeprefix('units/')}",) if piece.base else piece.upstream) + piece.files
        facts = {
            "resources": (resources, expected),
            "patches": (tuple(body.get("patches", ())), piece.patches if piece.base else tuple(body.get("patches", ()))),
            "components": (tuple(body.get("components", ())), piece.components),
            "modifies upstream": (bool(set(body) - {"apiVersion", "kind", "resources"}), piece.modifies_upstream),
            "files exist": (all(f"{path}/{name}" in files for name in piece.files), True),
        }
        found += [f"{path}: {what}: written {written}, layout {laid}" for what, (written, laid) in facts.items() if written != laid]
        if piece.base and piece.base not in layout.pieces:
            found.append(f"{path}: base {piece.base} is not laid out")
    return found


def test_the_layout_render_builds_from_is_the_tree_compile_wrote() -> None:
    cases = sorted((BUNDLED.parent / "tests" / "cases" / "positive").glob("*/stack.yaml"))
    for stack_file in [BUNDLED, *cases]:
        compiled = compile_stack(*placed(stack_file.read_text()))
        assert compiled.layout.clusters and _layout_mismatches(compiled) == [], stack_file
        assert {p for paths in compiled.layout.clusters.values() for p in paths} | {
            piece.base for piece in compiled.layout.pieces.values() if piece.base} == set(compiled.layout.pieces), stack_file



def test_sign_on_and_tls_patch_only_the_clusters_small_units() -> None:
    """Dex's config (its callback names the host) and the gateway's HTTPS server go in
    `auth-<cluster>` / `istio-<cluster>`; the shared units stay as every cluster has them."""
    stack, placement = placed((ROOT / "tests/cases/positive/gateway-tls/stack.yaml").read_text())
    files = compile_stack(stack, placement).files
    shared = yaml.safe_load(files["units/auth/kustomization.yaml"])
    assert "kubeflow.use1" not in yaml.safe_dump(shared)
    wrapper = yaml.safe_load(files["units/auth-aws-use1/kustomization.yaml"])
    assert wrapper["resources"][0] == "../auth-aws"
    targets = [(p["target"]["kind"], p["target"]["name"]) for p in wrapper["patches"]]
    assert targets == [("RequestAuthentication", "m2m-token-issuer"), ("ConfigMap", "dex"), ("Deployment", "dex"), ("Deployment", "oauth2-proxy")]
    assert "https://kubeflow.use1.acme.example.com/dex/callback" in wrapper["patches"][1]["patch"]
    assert "externalsecret-auth-dex-ldap.yaml" in wrapper["resources"]
    gateway = yaml.safe_load(yaml.safe_load(files["units/istio-gcp-euw4/kustomization.yaml"])["patches"][0]["patch"])
    assert [op["path"] for op in gateway] == ["/spec/servers/0/hosts", "/spec/servers/0/tls", "/spec/servers/-"]
    assert "clusters/lab/own/clusterissuer-stackgen-acme.yaml" not in files  # lab names an existing ClusterIssuer
    assert "clusters/gcp-euw4/own/clusterissuer-stackgen-acme.yaml" in files
    assert "units/cert-manager-lab/kustomization.yaml" not in files  # no ACME: cert-manager needs no identity there


def test_the_sink_is_handed_every_file_once_as_compiled() -> None:
    # A build stages a new output from what the sink is handed, while the rest compiles.
    stack, placement = placed(BUNDLED.read_text())
    handed: list[tuple[str, bytes]] = []
    files = compile_stack(stack, placement, sink=lambda path, content: handed.append((path, content))).files
    assert len(handed) == len(files)
    assert dict(handed) == files
    assert files == compile_stack(stack, placement).files
