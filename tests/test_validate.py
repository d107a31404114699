"""validate: schema errors at their node, cross-references, credentials masked, all at once.

Each test appends a few lines to BASE (lines 1-8) and names the token a diagnostic must point
at: `_at(text, "token")` is the 1-based line and column where that unique token starts.
"""

from __future__ import annotations

import typing as t

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackgen import catalog
from stackgen.codes import CODES
from stackgen.diagnostics import Diagnostic
from stackgen.driver import check_loaded
from stackgen.load import load_bytes
from stackgen.validate import (
    _Report,
    _schema_error,
    _secret_key,
    load_schema,
    schema_text,
    validate,
)
from tests import reach
from tests.compiling import BUNDLED

BASE = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  gitops: {engine: flux, repoURL: "https://git.example.com/ml.git"}
  clusters:
    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [training]}
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [serving]}
"""
WORKLOADS = """\
  datasets:
    - {name: d, uri: "s3://b/d", cluster: a}
  trainingJobs:
    - {name: j, dataset: d, image: "x/y:1"}
  models:
    - {name: m, storageUri: "s3://b/m", format: onnx, serveOn: [serving]}
"""


def _check(text: str) -> list[Diagnostic]:
    """What the user sees: validate's diagnostics, then place's (where things land is its rule)."""
    loaded = load_bytes(text.encode(), "s.yaml")
    assert loaded.ok, loaded.diagnostics
    return list(check_loaded(loaded).diagnostics)


def _at(text: str, token: str, occurrence: int = 1) -> tuple[int, int]:
    """Where the `occurrence`-th `token` starts in `text` (1-based line and column)."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(token, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _one(text: str) -> tuple[int, int, str]:
    [d] = _check(text)
    return d.line, d.column, d.code


# --- the schema ---------------------------------------------------------------------------


def test_bundled_stack_is_valid() -> None:
    assert validate(load_bytes(BUNDLED.read_bytes())) == []


def _schemas(node: dict[str, t.Any], path: str = "$") -> t.Iterator[tuple[str, dict[str, t.Any]]]:
    """Every (sub)schema, never a `properties` map (whose keys are field names such as `format`)."""
    yield path, node
    for group in ("properties", "definitions"):
        for name, child in node.get(group, {}).items():
            yield from _schemas(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _schemas(node[key], f"{path}.{key}")


def test_schema_is_draft07_closed_and_documented() -> None:
    schema = load_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema_text().endswith("\n")
    for path, node in _schemas(schema):
        assert "format" not in node, path  # enforced shapes use `pattern`: `format` is optional in draft-07
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
        for name, child in node.get("properties", {}).items():
            assert "description" in child, f"{path}.{name}"


def test_schema_components_are_the_catalog() -> None:
    components = load_schema()["properties"]["spec"]["properties"]["components"]["properties"]
    assert sorted(components) == sorted(catalog.NAMES)


def test_no_schema_property_is_named_like_a_credential() -> None:
    """So a credential-named key is never a schema property whose messages echo its value."""
    names = {name for _, node in _schemas(load_schema()) for name in node.get("properties", {})}
    assert not [name for name in names if _secret_key(name)]


def test_every_code_is_documented_and_stable_in_shape() -> None:
    assert all(len(code) == 5 and code.startswith("SG") and entry.meaning for code, entry in CODES.items())
    assert {d.code for d in _check(BASE.replace("flux", "flx"))} <= set(CODES)


# --- schema errors ------------------------------------------------------------------------


def test_unknown_key_at_the_key_with_a_hint() -> None:
    text = BASE + "  datasets:\n    - {name: x, uri: 's3://b/x', cluster: a, sise: 1Ti}\n"
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.hint) == (10, 46, "SG101", "did you mean `size`?")
    assert (d.line, d.column) == _at(text, "sise")
    assert (d.message, d.path) == ("unknown key `sise` in spec.datasets[0]", "$.spec.datasets[0].sise")


def test_missing_key_at_its_parent_mapping() -> None:
    [d] = _check(BASE.replace("region: us-east1, ", ""))
    assert (d.line, d.column, d.code) == (8, 7, "SG102")
    assert d.message == "missing required key `region` in spec.clusters[1]"


def test_a_misspelt_key_is_not_also_reported_missing() -> None:
    text = BASE.replace("region: us-east1", "regoin: us-east1")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.hint) == (*_at(text, "regoin"), "SG101", "did you mean `region`?")


def test_bad_enum_at_the_value_with_a_near_choice() -> None:
    text = BASE.replace("cloud: gcp", "cloud: gce")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (*_at(text, "gce"), "SG103")
    assert d.message == '`cloud` must be one of aws, gcp, azure, onprem; got "gce"'
    assert d.hint == "did you mean `gcp`?"


def test_const_names_the_one_value() -> None:
    text = BASE.replace("kind: Stack", "kind: Stacks")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message) == (2, 7, "SG103", '`kind` must be `Stack`; got "Stacks"')


def test_wrong_type_is_not_also_reported_as_a_bad_enum() -> None:
    text = BASE.replace("cloud: gcp", "cloud: 5")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message) == (*_at(text, "5,"), "SG104", "`cloud` must be a string; got an integer")
    text = BASE.replace("roles: [serving]", "roles: serving")
    assert _one(text) == (*_at(text, "serving}"), "SG104")


@pytest.mark.parametrize(
    ("written", "read", "meant"),
    [("1.30", "1.3 as a float", "1.30"), ("1.31", "1.31 as a float", "1.31"), ("1.2", "1.2 as a float", "1.20"), ("1", "1 as an integer", "1.0")],
)
def test_version_read_as_a_number_says_so_and_says_to_quote(written: str, read: str, meant: str) -> None:
    text = BASE.replace('kubernetesVersion: "1.31", roles: [serving]', f"kubernetesVersion: {written}, roles: [serving]")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (8, 66, "SG108")
    assert d.message == f'`kubernetesVersion` must be a string like "1.31"; YAML read {read}'
    assert d.hint == f'quote it: kubernetesVersion: "{meant}"'


@pytest.mark.parametrize("version", ["1.24", "1.38", "2.1"])
def test_version_out_of_range(version: str) -> None:
    text = BASE.replace('"1.31", roles: [serving]', f'"{version}", roles: [serving]')
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (*_at(text, f'"{version}"'), "SG106")
    assert d.message == f'`kubernetesVersion` must be between 1.25 and 1.37; got "{version}"'


def test_version_that_is_no_version() -> None:
    text = BASE.replace('"1.31", roles: [serving]', '"v1.31", roles: [serving]')
    assert _one(text) == (*_at(text, '"v1.31"'), "SG105")


def test_pattern_and_range_errors_at_the_value() -> None:
    text = BASE + WORKLOADS.replace('"x/y:1"}', '"x/y", workers: 0}')
    assert [(d.line, d.column, d.code) for d in _check(text)] == [(*_at(text, '"x/y"'), "SG105"), (*_at(text, "0}"), "SG106")]


def test_unknown_component_at_its_key_with_a_hint() -> None:
    text = BASE + "  components:\n    pipeline: {runsOn: [training]}\n"
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message, d.hint) == (10, 5, "SG107", "unknown component `pipeline`", "did you mean `pipelines`?")


def test_component_without_runs_on() -> None:
    text = BASE + "  components:\n    katib: {}\n"
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message) == (*_at(text, "{}"), "SG102", "missing required key `runsOn` in spec.components.katib")


def test_every_error_at_once_sorted_by_position() -> None:
    text = BASE.replace("engine: flux", "engine: flx").replace("cloud: gcp", "cloud: gce") + "  modles: []\n"
    assert [(d.line, d.column, d.code) for d in _check(text)] == [(5, 20, "SG103"), (8, 24, "SG103"), (9, 3, "SG101")]


def test_one_of_reports_the_best_alternative() -> None:
    """The schema has no oneOf/anyOf today; the day it does, the error comes from the closest branch."""
    loaded = load_bytes(b"spec:\n  size: 5Gi\n", "s.yaml")
    schema = {"properties": {"spec": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"size": {"type": "integer"}}}]}}}
    report = _Report(loaded)
    for error in jsonschema.Draft7Validator(schema).iter_errors(loaded.tree):
        _schema_error(report, error)
    [item] = report.items
    assert (item.diagnostic.line, item.diagnostic.column, item.diagnostic.code) == (2, 9, "SG104")


def test_a_failed_load_validates_to_its_own_diagnostics() -> None:
    loaded = load_bytes(b"a: 1\na: 2\n")
    assert validate(loaded) == list(loaded.diagnostics)


# --- cross-references ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "item", "kind"),
    [
        ("datasets", '{name: d, uri: "s3://b/e", cluster: a}', "dataset"),
        ("trainingJobs", '{name: j, dataset: d, image: "x/y:2"}', "training job"),
        ("models", '{name: m, storageUri: "s3://b/n", format: onnx, serveOn: [g]}', "model"),
    ],
)
def test_duplicate_names_at_the_second_naming_the_first(section: str, item: str, kind: str) -> None:
    text = BASE + WORKLOADS.replace(f"  {section}:\n", f"  {section}:\n    - {item}\n")  # the first, then the original
    [d] = _check(text)
    name = item[7]
    assert (d.line, d.column, d.code) == (_at(text, item)[0] + 1, 14, "SG201")  # the original's name value
    assert d.message == f"duplicate {kind} name `{name}` (first at line {_at(text, item)[0]})"


def test_duplicate_cluster_and_secret_names() -> None:
    text = BASE + "    - {name: a, cloud: aws, region: us-west-2, kubernetesVersion: \"1.31\", roles: [training]}\n"
    assert [(d.line, d.column, d.code, d.message) for d in _check(text)] == [(9, 14, "SG201", "duplicate cluster name `a` (first at line 7)")]
    text = BASE + WORKLOADS + """\
  secrets:
    - {name: s, store: aws-secrets-manager, key: k}
    - {name: s, namespace: other, store: aws-secrets-manager, key: k, runsOn: [a]}
    - {name: s, namespace: ml, store: aws-secrets-manager, key: k2}
"""
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message) == (18, 14, "SG201", "duplicate secret name `ml/s` (first at line 16)")


def test_cluster_named_like_a_role() -> None:
    text = BASE.replace("name: g,", "name: serving,")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (*_at(text, "serving,"), "SG203")


def test_selector_typo_gets_a_hint_over_roles_and_cluster_names() -> None:
    text = BASE + "  components:\n    kserve: {runsOn: [servng]}\n    katib: {runsOn: [zzz]}\n"
    assert [(d.line, d.column, d.code, d.hint) for d in _check(text)] == [
        (*_at(text, "servng"), "SG202", "did you mean `serving`?"),
        (*_at(text, "zzz"), "SG202", "roles: training, serving, notebooks, edge"),
    ]


def test_a_role_no_cluster_has_is_a_warning_at_the_selector() -> None:
    text = BASE + "  components:\n    kserve: {runsOn: [serving, edge]}\n"
    [d] = _check(text)
    assert (d.line, d.column, d.severity, d.code) == (*_at(text, "edge"), "warning", "SG209")
    assert d.message == "no cluster has role `edge` (yet); this selector matches nothing"


def test_dataset_on_an_unknown_cluster() -> None:
    text = BASE + WORKLOADS.replace("cluster: a}", "cluster: aa}")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.hint) == (*_at(text, "aa}"), "SG202", "did you mean `a`?")


def test_job_reading_an_unknown_dataset() -> None:
    text = BASE + WORKLOADS.replace("dataset: d,", "dataset: dd,")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message, d.hint) == (
        *_at(text, "dd,"), "SG202", "training job `j` reads unknown dataset `dd`", "did you mean `d`?")


def test_job_whose_data_sits_where_nothing_trains_names_what_would_qualify() -> None:
    text = BASE + WORKLOADS.replace("cluster: a}", "cluster: g}")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (*_at(text, "d, image"), "SG204")
    assert d.hint == "clusters that could hold it: a; or give `g` the training role"
    [d] = _check(text.replace("roles: [training]", "roles: [notebooks]"))
    assert d.hint == "no cluster has the `training` role; or give `g` the training role"


def test_model_served_nowhere() -> None:
    text = BASE + WORKLOADS.replace("serveOn: [serving]", "serveOn: [edge]")
    assert [(d.line, d.column, d.code) for d in _check(text)] == [
        (*_at(text, "[edge]"), "SG205"), (*_at(text, "edge]"), "SG209")]


def test_identity_and_issuer_must_fit_the_cloud() -> None:
    text = BASE.replace("roles: [serving]}", "roles: [serving], identity: {awsRoleArn: 'arn:aws:iam::123456789012:role/x'},\n"
                        "       oidcIssuer: https://oidc.eks.us-east1.amazonaws.com/id/ABC}")
    assert [(d.line, d.column, d.code) for d in _check(text)] == [(*_at(text, "awsRoleArn"), "SG206"), (*_at(text, "oidcIssuer"), "SG206")]


def test_issuer_in_another_region() -> None:
    text = BASE.replace("roles: [training]}", "roles: [training], oidcIssuer: https://oidc.eks.us-west-2.amazonaws.com/id/ABC}")
    [d] = _check(text)
    assert (d.line, d.column, d.code, d.message) == (
        *_at(text, "https://oidc"), "SG206", "`oidcIssuer` is in region us-west-2, but cluster `a` is in us-east-1")


def test_hub_needs_every_cluster_server() -> None:
    text = BASE.replace("engine: flux,", "engine: flux, topology: hub,").replace("roles: [training]}", "roles: [training], server: https://k.example}")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (8, 7, "SG210")


def _secret(line: str) -> str:
    return BASE + WORKLOADS + "  secrets:\n" + line


def test_secret_without_runs_on_follows_its_namespace_on_its_cloud() -> None:
    assert _check(_secret("    - {name: s, store: aws-secrets-manager, key: k}\n")) == []  # job j runs in ml on aws cluster a
    text = _secret("    - {name: s, namespace: other, store: aws-secrets-manager, key: k}\n")
    [d] = _check(text)
    assert (d.line, d.column, d.severity, d.code) == (*_at(text, "{name: s"), "warning", "SG208")
    assert d.message == "secret `s` lands on no cluster: no aws cluster runs workloads in namespace `other`"
    text = _secret("    - {name: s, store: azure-key-vault, key: k}\n")  # no azure cluster at all
    assert [(d.code, d.severity) for d in _check(text)] == [("SG208", "warning")]


def test_secret_sent_off_its_cloud_needs_a_credentials_reference() -> None:
    text = _secret("    - {name: s, store: aws-secrets-manager, key: k, runsOn: [serving]}\n")
    [d] = _check(text)
    assert (d.line, d.column, d.code) == (*_at(text, "{name: s"), "SG207")
    assert d.message.startswith("secret `s` cannot reach aws-secrets-manager from g by workload identity")
    # With credentials it reaches the store from g; from gcp only an ARN key tells the region (SG406 otherwise).
    text = text.replace("key: k,", "key: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k',")
    assert _check(text.replace("runsOn: [serving]}", "runsOn: [serving], auth: {secretRef: {name: aws-creds}}}")) == []


def test_vault_always_needs_a_credentials_reference() -> None:
    text = _secret("    - {name: s, store: vault, key: k}\n")
    assert _one(text) == (*_at(text, "{name: s"), "SG207")
    # With credentials it reaches vault; a key that names the server leaves nothing to report (SG406 otherwise).
    text = text.replace("key: k}", "key: 'https://vault.example.com:8200/secret/k', auth: {secretRef: {name: vault-token, key: token}}}")
    assert _check(text) == []


def test_cross_references_survive_a_malformed_tree() -> None:
    text = BASE + "  datasets: [5, {name: [x]}, {cluster: 7}]\n  trainingJobs: {}\n  models: [{serveOn: serving}]\n  secrets: [{store: 3}]\n"
    assert all(d.code.startswith("SG1") for d in _check(text))


# --- literal credentials --------------------------------------------------------------------

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_R2d2C3poBB8AndChewbacca1234567890abcd"
SLACK = "xoxb-123456789012-abcdefghijkl"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("line", "secret", "kind", "shown"),
    [
        (f"  registry: {{mirror: reg.example.com, password: {AWS_SECRET}}}\n", AWS_SECRET, "`password` holds a value", "wJal****"),
        (f"  registry: {{mirror: reg.example.com, clientSecret: '{AWS_SECRET}'}}\n", AWS_SECRET, "`clientSecret` holds a value", "wJal****"),
        ("  registry: {mirror: reg.example.com, db_password: 12345678}\n", "12345678", "`db_password` holds a value", "12****"),
        ("  registry: {mirror: reg.example.com, apiKey: abc}\n", "abc", "`apiKey` holds a value", "`a****`"),
        (f"  registry: {{mirror: '{AWS_KEY}'}}\n", AWS_KEY, "an AWS access key id", "AKIA****"),
        (f"  registry: {{mirror: 'reg.example.com?t={GITHUB}'}}\n", GITHUB, "a GitHub token", "reg.example.com?t=ghp_****"),
        (f"  registry: {{mirror: '{SLACK}'}}\n", SLACK, "a Slack token", "xoxb****"),
        (f"  registry: {{mirror: '{JWT}'}}\n", JWT, "a JSON Web Token", "eyJh****"),
        ("  registry:\n    mirror: |\n      -----BEGIN OPENSSH PRIVATE KEY-----\n      b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n"
         "      -----END OPENSSH PRIVATE KEY-----\n", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU", "a private key", "----****"),
        ("  registry: {mirror: '{\"type\": \"service_account\", \"private_key\": \"MIIEvQIBADANBg\"}'}\n", "MIIEvQIBADANBg",
         "a Google service-account key", '"pri****'),
    ],
)
def test_credentials_are_errors_and_shown_masked(line: str, secret: str, kind: str, shown: str) -> None:
    diagnostics = _check(BASE + line)
    credentials = [d for d in diagnostics if d.code == "SG301"]
    assert len(credentials) == 1 and kind in credentials[0].message and shown in credentials[0].message
    assert credentials[0].hint and "spec.secrets" in credentials[0].hint
    assert secret not in repr(diagnostics)


def test_password_in_a_url_keeps_the_url_readable() -> None:
    text = BASE.replace("https://git.example.com/ml.git", "https://deploy:Sup3rS3cret@git.example.com/ml.git")
    [d] = _check(text)  # the repoURL pattern error would only restate it
    assert (d.line, d.column, d.code) == (*_at(text, '"https'), "SG301")
    assert "https://deploy:****@git.example.com/ml.git" in d.message
    assert "Sup3rS3cret" not in repr(d)


def test_credentials_echoed_by_other_checks_are_masked_too() -> None:
    text = BASE.replace("cloud: gcp", f"cloud: {AWS_KEY}") + f"  components:\n    kserve: {{runsOn: [{GITHUB}]}}\n  {AWS_KEY}: x\n"
    diagnostics = _check(text)
    assert {d.code for d in diagnostics} == {"SG101", "SG103", "SG202", "SG301"}
    assert AWS_KEY not in repr(diagnostics) and GITHUB not in repr(diagnostics)
    assert "$.spec.AKIA****" in {d.path for d in diagnostics}


# --- properties ---------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
_trees = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=30)
_keys = st.sampled_from(["apiVersion", "kind", "metadata", "spec", "clusters", "components", "datasets", "trainingJobs",
                         "models", "secrets", "name", "cloud", "roles", "runsOn", "serveOn", "dataset", "cluster", "gitops", "store",
                         "identity", "oidcIssuer", "kubernetesVersion", "auth", "secretRef", "namespace", "topology"])
_stacky = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)), max_leaves=40)


@reach.reaching("validate", floor=0.9)
@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trees, _stacky))
def test_arbitrary_trees_give_only_diagnostics(tree: t.Any) -> None:
    text = yaml.safe_dump({"spec": tree, "apiVersion": "x"} if not isinstance(tree, dict) else tree)
    loaded = load_bytes(text.encode())
    reach.example(loaded.ok)
    if loaded.ok:
        for diagnostic in validate(loaded):
            assert isinstance(diagnostic, Diagnostic) and diagnostic.line >= 1 and diagnostic.column >= 1 and diagnostic.code in CODES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_bundled_stack_gives_only_diagnostics(data: st.DataObject) -> None:
    tree = yaml.safe_load(BUNDLED.read_text())
    spec = tree["spec"]
    section = data.draw(st.sampled_from(["clusters", "datasets", "trainingJobs", "models", "secrets"]))
    items = spec[section]
    item = items[data.draw(st.integers(0, len(items) - 1))]
    key = data.draw(st.sampled_from(sorted(item)))
    item[key] = data.draw(_stacky)
    loaded = load_bytes(yaml.safe_dump(tree).encode())
    assert loaded.ok
    for diagnostic in validate(loaded):
        assert diagnostic.code in CODES


# (the credential, the part of it that must never be shown)
_SECRETS = st.sampled_from([(AWS_KEY, AWS_KEY), (GITHUB, GITHUB), (SLACK, SLACK), (JWT, JWT), ("https://u:Pa55word9@h.example/x", "Pa55word9"),
                            ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n", "MIIEowIBAAKCAQEA")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_credential_survives_unmasked_wherever_it_is_put(data: st.DataObject) -> None:
    tree = yaml.safe_load(BUNDLED.read_text())
    node: t.Any = tree
    for _ in range(data.draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            node = node[data.draw(st.sampled_from(sorted(node)))]
        elif isinstance(node, list) and node:
            node = node[data.draw(st.integers(0, len(node) - 1))]
    secret, hidden = data.draw(_SECRETS)
    if isinstance(node, dict):
        node[data.draw(st.sampled_from([*sorted(node), secret]))] = secret
    elif isinstance(node, list):
        node.append(secret)
    else:
        tree["spec"]["registry"] = {"mirror": secret}
    diagnostics = validate(load_bytes(yaml.safe_dump(tree).encode()))
    assert "SG301" in {d.code for d in diagnostics}
    assert hidden not in repr(diagnostics)
