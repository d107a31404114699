"""Issue 15, "Nothing lost, nothing leaked, round two": each numbered attack, reproduced.

Every test here failed before its fix. Linearity is never judged by the clock: an input is made
so large that a quadratic check could not finish within the suite's budget (4 * 10**12 steps at
2,000,000 characters) while a linear one reads it once, and where a count can be taken (items
hashed, entries walked) the test counts.
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackgen import credentials
from stackgen import driver as driver_
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import mirror as mirror_
from stackgen import render as render_
from stackgen import validate as validate_
from stackgen.diagnostics import Diagnostic
from stackgen.driver import check_loaded
from stackgen.layout import Layout, Piece
from stackgen.load import load_bytes
from tests.compiling import BUNDLED
from tests.upstream import UPSTREAM, requires_upstream

STACK = BUNDLED.read_text("utf-8")


def _diagnostics(text: str) -> list[Diagnostic]:
    return list(check_loaded(load_bytes(text.encode("utf-8"), "stack.yaml")).diagnostics)


def _codes(text: str) -> list[str]:
    return [d.code for d in _diagnostics(text)]


def _shown(diagnostics: t.Iterable[Diagnostic]) -> str:
    return "\n".join(d.render() + json.dumps(d.as_json()) for d in diagnostics)


# --- 2. validation is linear ----------------------------------------------------------------

BIG = 2_000_000
_ADVERSARIAL = {
    "a long scheme before ://": "a" * BIG + "://x",
    "many schemes": "a://" * (BIG // 4),
    "colons and ats in one authority": "a://" + ":@" * (BIG // 2),
    "JWT starts": "eyJ" * (BIG // 3),
    "PEM headers": "-----BEGIN " * (BIG // 11),
    "Slack token starts": "xoxa-" * (BIG // 5),
    "API key starts": "sk-" * (BIG // 3),
    "signature parameters": "&sig=" * (BIG // 5),
    "base64 runs": "A/" * (BIG // 2),
    "service-account key with a long gap": '"private_key"' + " " * BIG,
}


@pytest.mark.parametrize("text", list(_ADVERSARIAL.values()), ids=list(_ADVERSARIAL))
def test_credential_checks_read_two_million_characters_once(text: str) -> None:
    # Quadratic, any of these is ~10**12 steps and never returns; linear, it is a few passes.
    credentials.kind(text)
    assert len(credentials.redact(text)) <= len(text) + 8


def test_a_six_megabyte_region_is_one_pattern_error() -> None:
    text = STACK.replace("region: us-east-1", "region: " + "a" * 6_000_000, 1)
    diagnostics = [d for d in _diagnostics(text) if d.code == "SG105"]
    assert len(diagnostics) == 1 and "region" in diagnostics[0].message
    assert len(diagnostics[0].render()) < 1_000


def test_unique_items_hashes_each_item_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[object] = []
    original = validate_._hashable

    def counting(value: t.Any) -> t.Hashable:
        hashed.append(value)
        return original(value)

    monkeypatch.setattr(validate_, "_hashable", counting)
    items = "\n".join(f"        - {{r: {i}}}" for i in range(20_000))
    text = STACK.replace("      roles: [training, notebooks]", "      roles:\n" + items, 1)
    assert set(_codes(text)) == {"SG104"}  # each item is the wrong type; none is a duplicate
    # One canonical form per mapping and per value inside it (and the few short lists elsewhere
    # in the stack): no pair is ever compared.
    assert 2 * 20_000 <= len(hashed) < 2 * 20_000 + 100


def test_unique_items_means_json_equality() -> None:
    assert validate_._hashable(1) == validate_._hashable(1.0)
    assert validate_._hashable(True) != validate_._hashable(1)
    assert validate_._hashable({"a": 1, "b": [1]}) == validate_._hashable({"b": [1.0], "a": 1})
    twice = STACK.replace("roles: [training, notebooks]", "roles: [training, training]", 1)
    assert "SG106" in _codes(twice)


# --- 8. secrets never printed in clear --------------------------------------------------------

# Each token format: a value that must be refused and masked, and a look-alike that is no secret.
TOKENS: t.Sequence[tuple[str, str, str]] = (
    # (label, secret, harmless look-alike)
    ("an AWS secret access key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("a Hugging Face token", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "hf://acme/resnet50"),
    ("an API key", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "sk-resnet50-training-pipeline-v2"),
    ("an API key", "sk_live_51HaBcDeFgHiJkLmN", "sk_test_notalivekey"),
    ("a GitLab token", "glpat-xYz0123456789AbCdEfGh", "glpat-short"),
    ("a signed URL", "https://acct.blob.core.windows.net/c/m?sv=2022-11-02&sig=AbCdEf0123456789%2BxYz%3D",
     "https://acct.blob.core.windows.net/c/m?design=1"),
    ("a signed URL", "https://storage.googleapis.com/b/m?X-Goog-Algorithm=GOOG4&X-Goog-Signature=0a1b2c3d4e5f60718293a4b5c6d7e8f9",
     "https://storage.googleapis.com/b/x-goog-signature-notes/m"),
    ("a Slack webhook", "https://hooks.slack.com/services/T0ABC1234/B0DEF5678/AbCdEfGhIjKlMnOpQrStUvWx",
     "https://api.slack.com/messaging/webhooks"),
    ("a private key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0123456789abcdef\n-----END PGP PRIVATE KEY BLOCK-----",
     "-----BEGIN PGP PUBLIC KEY BLOCK-----"),
    ("a password inside a URL", "https://:Sup3rS3cret@git.example.com/ml.git", "https://git.example.com/ml.git"),
    ("an AWS access key id", "x_AKIAIOSFODNN7EXAMPLE", "AKIA_NOT_A_KEY"),
    ("an AWS access key id", "1AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7"),
    ("a GitHub token", "x_ghp_R2d2C3poBB8AndChewbacca1234567890abcd", "ghp_short"),
    ("a GitHub token", "9ghp_R2d2C3poBB8AndChewbacca1234567890abcd", "high_performance_cluster"),
)


def _body(secret: str) -> str:
    """The part of a secret no output may show: all of it but its first four characters."""
    for prefix in ("https://:", "x_", "1", "9"):
        if secret.startswith(prefix) and len(secret) > 30:
            secret = secret[len(prefix):]
    return secret.split("@")[0][-12:] if "://:" in secret else secret[8:]


@pytest.mark.parametrize(("label", "secret", "lookalike"), TOKENS, ids=[f"{t[0]}:{t[1][:12]}" for t in TOKENS])
def test_each_token_format_is_found_and_its_lookalike_is_not(label: str, secret: str, lookalike: str) -> None:
    assert credentials.kind(secret) == label
    assert credentials.kind(lookalike) is None, lookalike
    assert credentials.redact(lookalike) == lookalike
    assert _body(secret) not in credentials.redact(secret)


@pytest.mark.parametrize(("label", "secret", "lookalike"), TOKENS, ids=[f"{t[0]}:{t[1][:12]}" for t in TOKENS])
def test_each_token_format_in_stack_yaml_is_refused_masked(label: str, secret: str, lookalike: str) -> None:
    text = STACK.replace("revision: main", f"revision: {json.dumps(secret)}", 1)
    diagnostics = _diagnostics(text)
    assert "SG301" in [d.code for d in diagnostics]
    assert _body(secret) not in _shown(diagnostics)
    harmless = STACK.replace("revision: main", f"revision: {json.dumps(lookalike.replace(' ', '-'))}", 1)
    assert "SG301" not in _codes(harmless)


def test_a_url_password_holding_an_at_sign_is_masked_whole() -> None:
    uri = "s3://admin:p@ssw0rd-very-secret@minio/models"
    assert credentials.redact(uri) == "s3://admin:****@minio/models"
    text = STACK.replace('storageUri: "s3://acme-models/resnet50/v3"', f'storageUri: "{uri}"', 1)
    shown = _shown(_diagnostics(text))
    assert "SG301" in shown and "ssw0rd" not in shown and "very-secret" not in shown


@pytest.mark.parametrize("document", [
    "apiVersion: !ghp_R2d2C3poBB8AndChewbacca1234567890abcd x\n",  # SG012: a tag
    "a: 1\nghp_R2d2C3poBB8AndChewbacca1234567890abcd: 1\nghp_R2d2C3poBB8AndChewbacca1234567890abcd: 2\n",  # SG014: a key
    "a: !!int AKIAIOSFODNN7EXAMPLE\n",  # SG016: a scalar
    "a: !!int sk_live_51HaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\n",  # SG016: a token cut at 40 characters
])
def test_load_messages_never_quote_a_token(document: str) -> None:
    loaded = load_bytes(document.encode(), "stack.yaml")
    assert not loaded.ok
    shown = _shown(loaded.diagnostics)
    for body in ("C3poBB8AndChewbacca", "IOSFODNN7EXAMPLE", "HaBcDeFgHiJk"):
        assert body not in shown


# --- 15. smaller ------------------------------------------------------------------------------

def test_unknown_keys_are_capped_and_counted() -> None:
    keys = "".join(f"  stray{i}: 1\n" for i in range(5_000))
    diagnostics = [d for d in _diagnostics(STACK + keys) if d.code == "SG101"]
    assert len(diagnostics) == validate_.MAX_UNKNOWN_KEYS + 1
    assert any(f"and {5_000 - validate_.MAX_UNKNOWN_KEYS} more unknown keys" in d.message for d in diagnostics)


# --- 12. YAML 1.1 numbers never change meaning silently ---------------------------------------

@pytest.mark.parametrize(("literal", "meaning"), [
    ("017", "15 (octal)"), ("+017", "15 (octal)"), ("1:20", "80 (base 60)"), ("1_0", "10"), ("0b1000", "8 (binary)"),
])
def test_yaml11_integers_are_refused_with_a_hint(literal: str, meaning: str) -> None:
    text = STACK.replace("workers: 4,", f"workers: {literal},", 1)
    [diagnostic] = _diagnostics(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if f"workers: {literal}," in row)
    assert (diagnostic.line, diagnostic.code) == (line, "SG017")
    assert meaning in diagnostic.message and diagnostic.hint


@pytest.mark.parametrize("literal", ["4.0", "4e0"])
def test_a_float_is_no_integer_even_when_whole(literal: str) -> None:
    text = STACK.replace("workers: 4,", f"workers: {literal},", 1)
    codes = _codes(text)
    assert codes and set(codes) <= {"SG104"}, codes


def test_yaml12_integers_still_read() -> None:
    for literal, value in (("0", 0), ("12", 12), ("-3", -3), ("0x10", 16)):
        assert load_bytes(f"a: {literal}\n".encode()).tree == {"a": value}


# --- 13. positions -----------------------------------------------------------------------------

@pytest.mark.parametrize("character", ["\x7f", "\x80", "\x9f", "\ufffe", "\x85", "\u2028", "\u2029"])
def test_a_bad_character_is_reported_where_it_is(character: str) -> None:
    lines = STACK.splitlines(keepends=True)
    lines[28] = lines[28].rstrip("\n") + f"  # note{character}here\n"
    [diagnostic] = load_bytes("".join(lines).encode(), "stack.yaml").diagnostics
    assert (diagnostic.line, diagnostic.column, diagnostic.code) == (29, len(lines[28]) - len("here\n"), "SG003")
    assert f"U+{ord(character):04X}" in diagnostic.message


def test_a_line_separator_in_a_comment_shifts_no_later_position() -> None:
    # Refused at its own place, so no later diagnostic can count it as a line break.
    text = STACK.replace("# ", "# a\u2028b ", 1)
    [diagnostic] = _diagnostics(text)
    assert diagnostic.code == "SG003" and "U+2028" in diagnostic.message and diagnostic.hint


# --- 6. no object is silently dropped: names checked in validate -----------------------------

def _with(datasets: str = "", jobs: str = "", secrets: str = "") -> str:
    text = STACK
    if datasets:
        text = text.replace("  datasets:\n", "  datasets:\n" + datasets, 1)
    if jobs:
        text = text.replace("  trainingJobs:\n", "  trainingJobs:\n" + jobs, 1)
    if secrets:
        text = text.replace("  secrets:\n", "  secrets:\n" + secrets, 1)
    return text


def _located(text: str, code: str) -> list[Diagnostic]:
    found = [d for d in _diagnostics(text) if d.code == code]
    assert found, _shown(_diagnostics(text))
    assert all(d.line > 1 for d in found)
    return found


def test_two_secrets_joining_into_one_file_name_are_refused() -> None:
    text = _with(secrets="    - {name: c, namespace: a-b, store: aws-secrets-manager, key: x/1}\n"
                         "    - {name: b-c, namespace: a, store: aws-secrets-manager, key: x/2}\n")
    [diagnostic] = _located(text, "SG211")
    assert "secretstore-a-b-c.yaml" in diagnostic.message and "a/b-c" in diagnostic.message
    assert diagnostic.line == next(i for i, row in enumerate(text.splitlines(), 1) if "name: b-c" in row)


def test_a_secret_joining_into_a_default_credentials_file_name_is_refused() -> None:
    text = _with(secrets="    - {name: passwords, namespace: auth-dex, store: aws-secrets-manager, key: x/1}\n")
    [diagnostic] = _located(text, "SG211")
    assert "default credential" in diagnostic.message


_PVC_DATASETS = ("    - {name: d1, uri: 'pvc://b-c/x', cluster: aws-use1, size: 1Gi}\n"
                 "    - {name: d2, uri: 'pvc://c/x', cluster: aws-use1, size: 1Gi}\n")


def test_two_claims_joining_into_one_pvc_file_are_refused() -> None:
    text = _with(datasets=_PVC_DATASETS, jobs="    - {name: j1, dataset: d1, namespace: a, image: 'ghcr.io/acme/train:1.4'}\n"
                                              "    - {name: j2, dataset: d2, namespace: a-b, image: 'ghcr.io/acme/train:1.4'}\n")
    [diagnostic] = _located(text, "SG211")
    assert "pvc-a-b-c.yaml" in diagnostic.message


def test_one_claim_with_two_sizes_is_refused() -> None:
    text = _with(datasets="    - {name: d1, uri: 'pvc://c/x', cluster: aws-use1, size: 1Gi}\n"
                          "    - {name: d2, uri: 'pvc://c/y', cluster: aws-use1, size: 500Gi}\n",
                 jobs="    - {name: j1, dataset: d1, image: 'ghcr.io/acme/train:1.4'}\n"
                      "    - {name: j2, dataset: d2, image: 'ghcr.io/acme/train:1.4'}\n")
    [diagnostic] = _located(text, "SG211")
    assert "1Gi" in diagnostic.message and "500Gi" in diagnostic.message


def test_one_claim_with_one_size_twice_is_one_pvc() -> None:
    text = _with(datasets="    - {name: d1, uri: 'pvc://c/x', cluster: aws-use1, size: 1Gi}\n"
                          "    - {name: d2, uri: 'pvc://c/y', cluster: aws-use1, size: 1Gi}\n",
                 jobs="    - {name: j1, dataset: d1, image: 'ghcr.io/acme/train:1.4'}\n"
                      "    - {name: j2, dataset: d2, image: 'ghcr.io/acme/train:1.4'}\n")
    assert "SG211" not in _codes(text)


# --- 9 and 14. valid stacks build; what Kubernetes or KServe rejects is refused ---------------

@pytest.mark.parametrize("claim", ["..", "My_Claim", ".git", "a\\\\b", "a" * 300, "-a", "a..b"])
def test_a_claim_that_is_no_pvc_name_is_refused_where_it_is_written(claim: str) -> None:
    text = _with(datasets=f"    - {{name: d1, uri: \"pvc://{claim}/x\", cluster: aws-use1, size: 1Gi}}\n")
    [diagnostic] = _located(text, "SG105")
    assert "PVC name" in diagnostic.message and len(diagnostic.render()) < 1_000


def test_a_claim_whose_pvc_file_name_would_be_too_long_is_refused() -> None:
    claim = ".".join(["a" * 63] * 4)[:253]
    text = _with(datasets=f"    - {{name: d1, uri: 'pvc://{claim}/x', cluster: aws-use1, size: 1Gi}}\n",
                 jobs="    - {name: j1, dataset: d1, image: 'ghcr.io/acme/train:1.4'}\n")
    [diagnostic] = _located(text, "SG106")
    assert "255" in diagnostic.message


@pytest.mark.parametrize(("name", "cloud"), [("aws", "aws"), ("gcp", "azure"), ("azure", "gcp"), ("onprem", "onprem")])
def test_a_cluster_named_like_a_cloud_is_refused_not_an_internal_error(name: str, cloud: str) -> None:
    text = STACK.replace("    - name: gcp-euw4\n      cloud: gcp", f"    - name: {name}\n      cloud: {cloud}", 1)
    text = text.replace("[gcp-euw4]", f"[{name}]")
    diagnostics = _located(text, "SG203")
    assert "named like a cloud" in diagnostics[0].message


@pytest.mark.parametrize(("field", "old", "new"), [
    ("ingressHost", "ingressHost: ml.euw4.acme.example.com", "ingressHost: " + "a" * 64 + ".acme.example.com"),
    ("server", "server: https://34.90.12.34", "server: https://34.90.12.34:99999"),
    ("server", "server: https://34.90.12.34", "server: https://34.90.12.34:0"),
    ("image", 'image: "ghcr.io/acme/train:1.4"', 'image: "ghcr.io//../train:1.4"'),
    ("image", 'image: "ghcr.io/acme/train:1.4"', 'image: "ghcr.io/acme/../train:1.4"'),
    ("storageUri", 'storageUri: "s3://acme-models/resnet50/v3"', 'storageUri: "az://acme-models/resnet50/v3"'),
    ("storageUri", 'storageUri: "s3://acme-models/resnet50/v3"', 'storageUri: "abfss://c@acct.dfs.core.windows.net/m"'),
    ("key", "key: ml/s3}", "key: \"ml/s3\\u202e\"}"),
    ("key", "key: ml/s3}", "key: \"ml/\\u2066s3\"}"),
])
def test_values_kubernetes_or_kserve_reject_are_refused(field: str, old: str, new: str) -> None:
    assert old in STACK
    [diagnostic] = _located(STACK.replace(old, new, 1), "SG105")
    assert f"`{field}`" in diagnostic.message


@pytest.mark.parametrize(("old", "new"), [
    ("ingressHost: ml.euw4.acme.example.com", "ingressHost: " + "a" * 63 + ".acme.example.com"),
    ("server: https://34.90.12.34", "server: https://34.90.12.34:65535"),
    ('image: "ghcr.io/acme/train:1.4"', 'image: "registry.acme.internal:5000/ml/train_v2__x:1.4"'),
    ('image: "ghcr.io/acme/train:1.4"', 'image: "train@sha256:' + "a" * 64 + '"'),
    ('storageUri: "s3://acme-models/resnet50/v3"', 'storageUri: "https://acct.blob.core.windows.net/models/resnet50"'),
])
def test_the_limits_themselves_are_accepted(old: str, new: str) -> None:
    # A blob container served on GKE and at the edge may be public: a warning there (SG410), never an error.
    assert [d.code for d in _diagnostics(STACK.replace(old, new, 1))] == (["SG410", "SG410"] if "blob" in new else [])


# --- 3. ownership is decided before anything is replayed or deleted --------------------------

from stackgen import write as writer  # noqa: E402

TREE = {"clusters/a/kustomization.yaml": b"a\n", "units/x/kustomization.yaml": b"x\n"}


def _files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _journal(out: Path, write: list[str], remove: list[str], lock: dict[str, str] | None = None) -> None:
    body = {"write": write, "remove": remove, "lock": writer._lock_body(lock or {}).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(body))


def test_a_planted_journal_in_a_folder_without_a_lock_deletes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.txt").write_text("mine\n")
    _journal(out, [], ["a.txt"])
    before = _files_under(out)
    with pytest.raises(writer.OwnershipError, match="does not own"):
        writer.write(out, TREE)
    assert _files_under(out) == before


def test_a_journal_is_trusted_only_for_what_the_lock_owns(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / "notes.md").write_text("mine\n")
    before = _files_under(out)
    for write, remove, lock in (([], ["notes.md"], None),  # removes a file the lock does not own
                                ([], [], {"notes.md": "0" * 64}),  # its lock claims a user's file, to prune it later
                                (["notes.md"], [], None)):  # overwrites a user's file
        _journal(out, write, remove, lock)
        with pytest.raises(writer.OwnershipError, match="not replayed"):
            writer.write(out, TREE)
        assert {k: v for k, v in _files_under(out).items() if k != writer.JOURNAL_NAME} == before


@pytest.mark.parametrize("journal", ["{", "[]", '{"write": [], "remove": [], "lock": 5}', '{"write": [], "remove": ["../victim"], "lock": "{}"}',
                                     '{"write": [], "remove": [], "lock": "[]"}', "[" * 100_000 + "]" * 100_000, "\xff"])
def test_a_damaged_journal_is_refused_not_an_internal_error(tmp_path: Path, journal: str) -> None:
    (tmp_path / "victim").write_text("keep\n")
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / writer.JOURNAL_NAME).write_bytes(journal.encode("utf-8", "surrogateescape") if journal != "\xff" else b"\xff")
    with pytest.raises(writer.OwnershipError, match="damaged"):
        writer.write(out, TREE)
    assert (tmp_path / "victim").read_text() == "keep\n" and _files_under(out) == {**TREE, writer.JOURNAL_NAME: (out / writer.JOURNAL_NAME).read_bytes(),
                                                                                    writer.LOCK_NAME: (out / writer.LOCK_NAME).read_bytes()}


def test_a_lock_nested_100000_deep_is_damaged_not_an_internal_error(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / writer.LOCK_NAME).write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(writer.OwnershipError, match="damaged"):
        writer.write(out, {})
    assert all((out / path).exists() for path in TREE)


def test_a_first_build_interrupted_past_its_commit_point_is_still_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o"
    real = os.replace
    monkeypatch.setattr(writer.os, "replace", lambda a, b: (_ for _ in ()).throw(KeyboardInterrupt) if "units" in str(b) else real(a, b))
    with pytest.raises(KeyboardInterrupt):
        writer.write(out, TREE)
    monkeypatch.setattr(writer.os, "replace", real)
    assert (out / writer.JOURNAL_NAME).exists() and (out / writer.LOCK_NAME).exists()
    writer.write(out, TREE)
    assert {k: v for k, v in _files_under(out).items() if k != writer.LOCK_NAME} == TREE


# --- 4. render -o . never adopts another tree's lock ------------------------------------------

def test_goldens_at_the_repository_root_never_adopt_the_overlays_lock(tmp_path: Path) -> None:
    from stackgen import driver

    writer.write(tmp_path / "overlays", TREE)
    (tmp_path / "stack.yaml").write_text("x\n")
    rendered = driver.Rendered(t.cast(t.Any, None), (), {"overlays": {"index.yaml": b"i\n"}, "a": {"index.yaml": b"i\n"}})
    with pytest.raises(writer.OwnershipError, match="no .stackgen.lock"):
        driver.golden_changes(tmp_path, rendered, ["a", "overlays"], check_only=False)
    assert _files_under(tmp_path / "overlays") == {**TREE, writer.LOCK_NAME: (tmp_path / "overlays" / writer.LOCK_NAME).read_bytes()}


# --- 5. failures past the commit point say so; a directory in the way is refused before -------

def test_a_failure_past_the_commit_point_does_not_claim_the_output_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    real = os.replace

    def failing(source: t.Any, target: t.Any) -> None:
        if str(target).endswith("units/x/kustomization.yaml"):
            raise PermissionError(13, "Permission denied", str(target))
        real(source, target)

    monkeypatch.setattr(writer.os, "replace", failing)
    with pytest.raises(writer.OutputError) as raised:
        writer.write(out, {"clusters/a/kustomization.yaml": b"a2\n", "units/x/kustomization.yaml": b"x2\n"})
    assert "unchanged" not in str(raised.value) and "past the commit point" in str(raised.value)
    monkeypatch.setattr(writer.os, "replace", real)
    writer.write(out, {"clusters/a/kustomization.yaml": b"a2\n", "units/x/kustomization.yaml": b"x2\n"})
    assert (out / "units/x/kustomization.yaml").read_bytes() == b"x2\n"


def test_a_directory_in_place_of_an_owned_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / "units/x/kustomization.yaml").unlink()
    (out / "units/x/kustomization.yaml").mkdir()
    ((out / "units/x/kustomization.yaml") / "inside").write_text("mine\n")
    before = _files_under(out)
    for _ in range(2):  # and every later build says the same, with nothing half done
        with pytest.raises(writer.OwnershipError, match="directory stands where"):
            writer.write(out, {**TREE, "clusters/a/kustomization.yaml": b"a2\n"})
        assert _files_under(out) == before and not (out / writer.JOURNAL_NAME).exists()


# --- 15. -o / is refused before anything is walked ---------------------------------------------

def test_an_unowned_output_is_refused_at_its_first_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[str] = []
    real = os.walk

    def counting(top: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Iterator[t.Any]:
        for entry in real(top, *args, **kwargs):
            walked.append(entry[0])
            yield entry

    monkeypatch.setattr(writer.os, "walk", counting)
    out = tmp_path / "big"
    for i in range(200):
        (out / f"d{i}").mkdir(parents=True)
        (out / f"d{i}" / "f").write_text("x")
    (out / "top.txt").write_text("x")
    with pytest.raises(writer.OwnershipError, match="no .stackgen.lock"):
        writer.write(out, TREE)
    assert len(walked) == 1  # the top folder, where the first file is


# --- 11. no internal errors: vendor pins, the cache, a damaged overlays lock --------------------

from tests.running import environment, run  # noqa: E402


@pytest.mark.parametrize("pin", ["..", "../../x", "/abs", "", ".", "a/b", "26.03/..", "x" * 300])
def test_vendor_refuses_a_pin_that_is_no_release_tag(tmp_path: Path, pin: str) -> None:
    cache = tmp_path / "cache"
    kept = cache / "stackgen" / "upstream" / "v1.11.0"
    kept.mkdir(parents=True)
    (kept / "remotes.yaml").write_text("[]\n")
    mirror = tmp_path / "mirror"
    (mirror / "kubeflow-manifests").mkdir(parents=True)
    (mirror / "remotes.yaml").write_text("[]\n")
    done = run("vendor", "--from", str(mirror), "--pin", pin, env=environment(XDG_CACHE_HOME=str(cache)))
    assert done.returncode == 2 and "internal error" not in done.stderr and "not a release tag" in done.stderr, done.stderr
    assert (kept / "remotes.yaml").read_text() == "[]\n"
    assert sorted(p.name for p in (cache / "stackgen" / "upstream").iterdir()) == ["v1.11.0"]
    assert not (tmp_path / "x").exists() and not Path("/abs").exists()


def test_version_with_an_unreadable_cache_is_no_internal_error(tmp_path: Path) -> None:
    # A cache path the kernel refuses to look up (ENAMETOOLONG), as an unreadable cache would be.
    done = run("--version", env=environment(XDG_CACHE_HOME=str(tmp_path / ("c" * 300))))
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stderr
    assert "cache unreadable" in done.stdout


def test_render_with_a_damaged_overlays_lock_is_no_internal_error(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_bytes(BUNDLED.read_bytes())
    assert run("build", "-f", str(tmp_path / "stack.yaml")).returncode == 0
    (tmp_path / "overlays" / writer.LOCK_NAME).write_text("{")
    done = run("render", "-f", str(tmp_path / "stack.yaml"), "--upstream", str(tmp_path))
    assert done.returncode == 2 and "[SG701]" in done.stderr and "internal error" not in done.stderr and "damaged" in done.stderr, done.stderr


# --- 1. goldens are input: never followed, never quoted ---------------------------------------


TOKEN = "kubeconfig-token-0123456789abcdef"
INDEX = (golden_.GOLDEN_HEADER + "cluster: lab\nkustomize: v5\nupstream: {kubeflow: '26.03'}\nresources:\n"
         "- {apiVersion: v1, kind: ConfigMap, namespace: ml, name: c, origin: own, sha256: '00'}\n").encode()


def _planted_golden(tmp_path: Path, how: str) -> Path:
    golden = tmp_path / "golden"
    (golden / "lab" / "own").mkdir(parents=True)
    (golden / "lab" / "index.yaml").write_bytes(INDEX)
    secret = tmp_path / "kubeconfig"
    secret.write_text(f"users:\n- user: {{token: {TOKEN}}}\n")
    target = golden / "lab" / "own" / "configmap.core.ml.c.yaml"
    if how == "file link":
        os.symlink(secret, target)
    elif how == "folder link":
        os.rmdir(golden / "lab" / "own")
        os.symlink(tmp_path, golden / "lab" / "own")
    elif how == "cluster link":
        (golden / "lab" / "index.yaml").unlink()
        os.rmdir(golden / "lab" / "own")
        os.rmdir(golden / "lab")
        os.symlink(tmp_path, golden / "lab")
    elif how == "fifo":
        os.mkfifo(target)
    return golden


@pytest.mark.parametrize("how", ["file link", "folder link", "cluster link", "fifo"])
def test_a_golden_that_is_no_plain_file_is_refused_unread(tmp_path: Path, how: str) -> None:
    golden = _planted_golden(tmp_path, how)
    with pytest.raises(golden_.GoldenError) as raised:
        driver_.read_golden(golden, "lab")
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("content", [b"[unclosed: " + TOKEN.encode() + b"\n", b"a: &x [1]\nb: *x\n", b"[" * 5_000 + b"]" * 5_000,
                                     b"\xff" + TOKEN.encode(), b"aws_access_key_id = " + TOKEN.encode() + b"\n\tx: ]\n"])
def test_a_golden_that_is_not_yaml_is_refused_without_quoting_it(content: bytes) -> None:
    with pytest.raises(golden_.GoldenError) as raised:
        golden_.parse(content, "golden/lab/own/x.yaml")
    assert TOKEN not in str(raised.value) and "golden/lab/own/x.yaml" in str(raised.value)


@pytest.mark.parametrize("index", [b"{", b"[]", b"resources: 5\n", b"resources: [{kind: x}]\n", b"resources: []\nupstream: 5\n",
                                   b"resources:\n- {apiVersion: v1, kind: K, namespace: '', name: [x], origin: own, sha256: s}\n"])
def test_a_damaged_golden_index_is_a_golden_error(index: bytes) -> None:
    with pytest.raises(golden_.GoldenError):
        golden_.diff_cluster("lab", {"index.yaml": index}, {"index.yaml": INDEX})
    with pytest.raises(golden_.GoldenError):
        golden_.golden_pin({"index.yaml": index})


@requires_upstream
@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_diff_never_prints_a_file_a_golden_links_to(tmp_path: Path, output_format: str) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text((Path(__file__).parent / "cases" / "positive" / "minimal" / "stack.yaml").read_text())
    assert run("build", "-f", str(stack)).returncode == 0
    golden = _planted_golden(tmp_path, "file link")
    done = run("diff", "-f", str(stack), "--upstream", str(UPSTREAM), "--golden", str(golden), "--format", output_format)
    shown = done.stdout + done.stderr  # the failure goes where the format's diagnostics go
    assert done.returncode == 1 and "symbolic link" in shown and "SG708" in shown, shown
    assert TOKEN not in done.stdout + done.stderr and "internal error" not in done.stderr


# --- 7 and 10. render reads overlays/ and the mirror as plain files, offline -------------------


_REMOTES = ("- {url: 'https://github.com/kubeflow/manifests/', ref: '26.03', path: kubeflow-manifests/}\n")
_MAPPED = "https://github.com/kubeflow/manifests//apps/a?ref=26.03"


def _tiny_mirror(root: Path, remotes: str = _REMOTES) -> Path:
    (root / "kubeflow-manifests" / "apps" / "a").mkdir(parents=True)
    (root / "kubeflow-manifests" / "apps" / "a" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (root / "kubeflow-manifests" / "apps" / "a" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (root / "remotes.yaml").write_text(remotes)
    return root


def _overlay(root: Path, kustomization: str) -> Path:
    (root / "units" / "u").mkdir(parents=True)
    (root / "units" / "u" / "kustomization.yaml").write_text(kustomization)
    return root


def _materialized(tmp_path: Path, kustomization: str, remotes: str = _REMOTES) -> mirror_.Workspace:
    mirror = mirror_.open_mirror(_tiny_mirror(tmp_path / "mirror", remotes))
    return mirror_.materialize(mirror, _overlay(tmp_path / "overlays", kustomization), tmp_path / "work")


@pytest.mark.parametrize("kustomization", [
    "resources:\n- HTTP://github.com/kubeflow/manifests//apps/a?ref=26.03\n",
    "resources:\n- Https://example.com/x.yaml\n",
    "patches:\n- path: https://example.com/patch.yaml\n",
    "patchesStrategicMerge:\n- https://example.com/patch.yaml\n",
    "openapi: {path: 'https://example.com/schema.json'}\n",
    "configurations:\n- https://example.com/config.yaml\n",
    "transformers:\n- https://example.com/t.yaml\n",
    "generators:\n- https://example.com/g.yaml\n",
    "configMapGenerator:\n- {name: c, files: ['k=https://example.com/f']}\n",
    "resources: [https://github.com/unmapped/repo//x?ref=v1]\n",
    "resources: ['file:///tmp/elsewhere//x']\n",
    "resources: ['git@github.com:acme/x.git']\n",
    "resources: ['github.com/acme/x//y?ref=v1']\n",
    "resources: ['https://github.com/kubeflow/manifests//../../../../../etc?ref=26.03']\n",
    "resources: [/etc]\n",
    "resources: [https://example.com/x.yaml, {\n",  # not YAML: never left unchecked
    "resources: ['../../../../../../../../etc']\n",
    "patches:\n- path: /etc/passwd\n",
])
def test_the_mirror_never_lets_kustomize_fetch_or_read_outside(tmp_path: Path, kustomization: str) -> None:
    with pytest.raises(mirror_.MirrorError) as raised:
        _materialized(tmp_path, kustomization)
    assert "units/u/kustomization.yaml" in str(raised.value)


def test_a_mapped_remote_in_a_flow_style_list_is_rewritten_to_the_mirror(tmp_path: Path) -> None:
    work = _materialized(tmp_path, f"resources: ['{_MAPPED}', ./local.yaml]\n")
    text = (work.overlays / "units" / "u" / "kustomization.yaml").read_text()
    assert "://" not in text and "upstream/kubeflow-manifests/apps/a" in text and "./local.yaml" in text


@pytest.mark.parametrize("remotes", [
    "- {url: 'https://github.com/kubeflow/manifests/', ref: '26.03', path: /etc}\n",
    "- {url: 'https://github.com/kubeflow/manifests/', ref: '26.03', path: ../outside}\n",
    "{",
])
def test_a_remote_map_pointing_outside_the_mirror_is_refused(tmp_path: Path, remotes: str) -> None:
    with pytest.raises(mirror_.MirrorError):
        mirror_.open_mirror(_tiny_mirror(tmp_path / "mirror", remotes))


@pytest.mark.parametrize("what", ["folder link", "file link", "fifo"])
def test_a_link_or_special_file_in_the_mirror_is_refused_unfollowed(tmp_path: Path, what: str) -> None:
    mirror_root = _tiny_mirror(tmp_path / "mirror")
    apps = mirror_root / "kubeflow-manifests" / "apps"
    if what == "folder link":
        os.symlink("/", apps / "root")
    elif what == "file link":
        os.symlink("/etc/passwd", apps / "a" / "passwd.yaml")
    else:
        os.mkfifo(apps / "a" / "pipe.yaml")
    with pytest.raises(mirror_.MirrorError, match="link or special file"):
        mirror_.materialize(mirror_.open_mirror(mirror_root), _overlay(tmp_path / "overlays", "resources: []\n"), tmp_path / "work")


def _plant_foreign(unit: Path, tmp_path: Path) -> None:
    os.symlink("/", unit / "root")
    os.symlink("loop", unit / "loop")
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as handle:
        handle.truncate(20 * 1024**3)  # 20 GB that takes no disk: read whole, it takes the memory
    os.symlink(sparse, unit / "big.yaml")
    os.mkfifo(unit / "pipe")


def test_foreign_links_in_overlays_are_never_followed_by_render(tmp_path: Path) -> None:
    overlays = _overlay(tmp_path / "overlays", f"resources: ['{_MAPPED}']\n")
    _plant_foreign(overlays / "units" / "u", tmp_path)
    mirror = mirror_.open_mirror(_tiny_mirror(tmp_path / "mirror"))
    work = mirror_.materialize(mirror, overlays, tmp_path / "work")
    copied = work.overlays / "units" / "u"
    assert sorted(p.name for p in copied.iterdir()) == ["kustomization.yaml"]
    # The cache key reads only the regular files: the 20 GB link, `/` and the loop are not entered.
    piece = Piece("units/u", upstream=(_MAPPED,))
    key = render_.piece_key(overlays, piece, "salt")
    (overlays / "units" / "u" / "root").unlink()
    (overlays / "units" / "u" / "big.yaml").unlink()
    assert render_.piece_key(overlays, piece, "salt") == key


def test_only_the_files_the_lock_lists_reach_the_workspace(tmp_path: Path) -> None:
    overlays = tmp_path / "overlays"
    writer.write(overlays, {"units/u/kustomization.yaml": f"resources: ['{_MAPPED}']\n".encode()})
    (overlays / "units" / "u" / "notes.yaml").write_text("mine\n")
    mirror = mirror_.open_mirror(_tiny_mirror(tmp_path / "mirror"))
    work = mirror_.materialize(mirror, overlays, tmp_path / "work", set(writer.owned(overlays) or ()))
    assert sorted(p.name for p in (work.overlays / "units" / "u").iterdir()) == ["kustomization.yaml"]


def test_spelling_searches_are_bounded_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    searches: list[str] = []
    original = validate_._did_you_mean
    monkeypatch.setattr(validate_, "_did_you_mean", lambda word, options: searches.append(word) or original(word, options))
    selectors = ", ".join(f"nosuch{i}" for i in range(3_000))
    text = STACK.replace("pipelines: {runsOn: [training]}", f"pipelines: {{runsOn: [{selectors}]}}", 1)
    assert [d.code for d in _diagnostics(text)].count("SG202") == 3_000
    assert len(searches) == validate_.MAX_SUGGESTIONS  # each search reads every cluster: bounded, the whole stays linear


# --- the CLI, end to end: each input of the issue ends in a located refusal, never "internal error"

def _project(tmp_path: Path, text: str | None = None) -> Path:
    stack = tmp_path / "stack.yaml"
    stack.write_text(text if text is not None else STACK)
    return stack


@pytest.mark.parametrize("name", ["cloud-named cluster", "claim with a backslash", "300-character claim"])
def test_valid_looking_stacks_fail_in_validate_and_leave_no_folder(tmp_path: Path, name: str) -> None:
    text = {
        "cloud-named cluster": STACK.replace("    - name: gcp-euw4\n", "    - name: aws\n", 1).replace("[gcp-euw4]", "[aws]"),
        "claim with a backslash": _with(datasets="    - {name: d1, uri: 'pvc://a\\b/x', cluster: aws-use1, size: 1Gi}\n",
                                        jobs="    - {name: j1, dataset: d1, image: 'ghcr.io/acme/train:1.4'}\n"),
        "300-character claim": _with(datasets=f"    - {{name: d1, uri: 'pvc://{'a' * 300}/x', cluster: aws-use1, size: 1Gi}}\n",
                                     jobs="    - {name: j1, dataset: d1, image: 'ghcr.io/acme/train:1.4'}\n"),
    }[name]
    stack = _project(tmp_path, text)
    done = run("build", "-f", str(stack), "-o", str(tmp_path / "out"))
    assert done.returncode == 1 and "internal error" not in done.stderr, done.stderr
    assert f"{stack}:" in done.stderr and ": error: " in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("planted", ["journal without a lock", "damaged journal", "deep lock"])
def test_build_refuses_planted_bookkeeping_with_exit_1(tmp_path: Path, planted: str) -> None:
    stack = _project(tmp_path)
    out = tmp_path / "overlays"
    if planted == "journal without a lock":
        out.mkdir()
        (out / "a.txt").write_text("mine\n")
        (out / writer.JOURNAL_NAME).write_text(json.dumps({"write": [], "remove": ["a.txt"], "lock": writer._lock_body({}).decode()}))
    else:
        assert run("build", "-f", str(stack)).returncode == 0
        if planted == "damaged journal":
            (out / writer.JOURNAL_NAME).write_text('{"lock": 5}')
        else:
            (out / writer.LOCK_NAME).write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    before = _files_under(out)
    done = run("build", "-f", str(stack))
    assert done.returncode == 2 and "[SG701]" in done.stderr and "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _files_under(out) == before


def test_build_into_the_root_is_refused_at_once(tmp_path: Path) -> None:
    done = run("build", "-f", str(_project(tmp_path)), "-o", "/", timeout=60)
    assert done.returncode == 2 and "[SG701]" in done.stderr and "does not own it" in done.stderr, done.stderr


@requires_upstream
def test_render_into_the_repository_root_keeps_the_overlays(tmp_path: Path) -> None:
    stack = _project(tmp_path, (Path(__file__).parent / "cases" / "positive" / "minimal" / "stack.yaml").read_text())
    assert run("build", "-f", str(stack)).returncode == 0
    before = _files_under(tmp_path / "overlays")
    done = run("render", "-f", str(stack), "--upstream", str(UPSTREAM), "-o", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "[SG701]" in done.stderr and "internal error" not in done.stderr, done.stderr
    assert _files_under(tmp_path / "overlays") == before


def test_a_foreign_folder_or_link_in_overlays_clusters_is_no_cluster(tmp_path: Path) -> None:
    """Render builds the clusters compile laid out; what else overlays/clusters/ holds is never entered."""
    overlays = _overlay(tmp_path / "overlays", f"resources: ['{_MAPPED}']\n")
    (overlays / "clusters" / "real").mkdir(parents=True)
    (overlays / "clusters" / "real" / "kustomization.yaml").write_text("resources: [../../units/u]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "kustomization.yaml").write_text("resources: []\n")
    os.symlink(elsewhere, overlays / "clusters" / "linked")
    os.symlink("loop", overlays / "clusters" / "loop")
    layout = Layout({"real": ("units/u",)}, {"units/u": Piece("units/u", upstream=(_MAPPED,), upstream_paths=("apps/a",))})
    result = render_.render(overlays, _tiny_mirror(tmp_path / "mirror"), kz.find_kustomize(), layout)
    assert [(c.cluster, c.error, [r["metadata"]["name"] for r in c.resources]) for c in result.clusters] == [("real", None, ["a"])]


def test_an_alias_bomb_in_a_kustomization_is_refused_before_expansion(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                                                                for i in range(9)) + "resources: []\n"
    mirror_root = _tiny_mirror(tmp_path / "mirror")
    (mirror_root / "kubeflow-manifests" / "apps" / "a" / "kustomization.yaml").write_text(bomb)
    with pytest.raises(mirror_.MirrorError, match="aliases"):
        mirror_.materialize(mirror_.open_mirror(mirror_root), _overlay(tmp_path / "overlays", "resources: []\n"), tmp_path / "work")


def test_a_link_among_the_mirrors_crds_is_refused_before_verify_reads_them(tmp_path: Path) -> None:
    mirror_root = _tiny_mirror(tmp_path / "mirror")
    (mirror_root / "crds" / "argo").mkdir(parents=True)
    os.symlink("/etc/passwd", mirror_root / "crds" / "argo" / "application.yaml")
    with pytest.raises(mirror_.MirrorError, match="link or special file"):
        mirror_.open_mirror(mirror_root)


def test_vendor_copies_no_link_from_the_mirror_it_is_given(tmp_path: Path) -> None:
    mirror = _tiny_mirror(tmp_path / "mirror")
    os.symlink("/etc", mirror / "kubeflow-manifests" / "apps" / "etc")
    done = run("vendor", "--from", str(mirror), "--pin", "26.03", env=environment(XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert done.returncode == 2 and "link or special file" in done.stderr and "internal error" not in done.stderr, done.stderr
    assert not (tmp_path / "cache" / "stackgen" / "upstream" / "26.03").exists()


def _kind_pattern_by_pattern(text: str) -> str | None:
    """credentials.kind without its one-search shortcut: each pattern on its own."""
    if next(credentials.url_passwords(text), None) is not None:
        return "a password inside a URL"
    return next((p.label for p in credentials.PATTERNS if next(credentials._hits(p, text), None) is not None), None)


_FRAGMENTS = [piece for _, secret, lookalike in TOKENS for piece in (secret, lookalike, secret[:10], secret[-12:])]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)), max_size=6))
def test_one_search_for_every_pattern_finds_what_each_pattern_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert credentials.kind(text) == _kind_pattern_by_pattern(text)
