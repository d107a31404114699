"""Secrets never leak: not from stack.yaml into any output or message, not from a render into goldens.

A literal credential in any field a user might misuse is refused (SG301) and shown masked: the
secret's body appears in no stdout or stderr line, in no `--format json` output, and in no
file (nothing is written). Upstream Secrets that reach a render are kept out of goldens (compact
and full), `render --format json`, and `diff` (text, markdown, json): digests only.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.upstream import UPSTREAM, requires_upstream

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = (ROOT / "stack.yaml").read_text("utf-8")

GITHUB_TOKEN = "ghp_" + "Zq8Xw3Ev5Rt7Yu9Io1Pa2Sd4Fg6Hj0KlMn3Bv"
AWS_KEY_ID = "AKIA" + "Z3X9Q7W2E5R8T1Y6"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz4x9LEAKQ"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lLW1sLWNpIn0.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQ\\n-----END RSA PRIVATE KEY-----"
GOOGLE_KEY = "AIza" + "SyD9x8c7v6b5n4m3l2k1j0h9g8f7e6d5c4b"


@dataclass(frozen=True)
class Leak:
    where: str
    old: str
    new: str
    secret: str  # what must never be printed (a mask may keep its first four characters)


LEAKS = [
    Leak("secret-key-aws-key-id", "key: ml/s3}", f"key: {AWS_KEY_ID}}}", AWS_KEY_ID),
    Leak("secret-key-private-key", "key: ml/s3}", f'key: "{PRIVATE_KEY}"}}', "MIIEowIBAAKCAQEAq7BFUpkGp3"),
    Leak("model-storage-uri-password", 'storageUri: "s3://acme-models/resnet50/v3"',
         'storageUri: "s3://ml-user:S3cr3tPassw0rdXYZ@acme-models/resnet50/v3"', "S3cr3tPassw0rdXYZ"),
    Leak("dataset-uri-password", 'uri: "s3://acme-data/imagenet"', 'uri: "https://reader:Hunter2Hunter2@data.example.com/imagenet"',
         "Hunter2Hunter2"),
    Leak("repo-url-token", "repoURL: https://github.com/acme/ml-platform.git",
         f"repoURL: https://oauth2:{GITHUB_TOKEN}@github.com/acme/ml-platform.git", GITHUB_TOKEN),
    Leak("cluster-server-password", "server: https://10.17.0.10:6443", "server: https://admin:P4ssw0rdLong@10.17.0.10:6443",
         "P4ssw0rdLong"),
    Leak("s3-endpoint-password", "s3Endpoint: http://minio.store17.lan:9000", "s3Endpoint: http://minio:MinioSecret99@minio.store17.lan:9000",
         "MinioSecret99"),
    Leak("image-tag-token", 'image: "ghcr.io/acme/train:1.4"', f'image: "ghcr.io/acme/train:{GITHUB_TOKEN}"', GITHUB_TOKEN),
    Leak("revision-jwt", "revision: main", f"revision: {JWT}", JWT),
    Leak("region-google-key", "region: europe-west4", f"region: {GOOGLE_KEY}", GOOGLE_KEY),
    Leak("job-env-secret-key", "workers: 4,", f'workers: 4, env: {{AWS_SECRET_ACCESS_KEY: "{AWS_SECRET}"}},', AWS_SECRET),
    Leak("cluster-password-key", "      storageClass: local-path\n", "      storageClass: local-path\n      password: hunter2hunter2\n",
         "hunter2hunter2"),
    Leak("secret-token-key-number", "key: ml/s3}", "key: ml/s3, token: 918273645546372819}", "918273645546372819"),
    Leak("runs-on-token", "katib: {runsOn: [training]}", f"katib: {{runsOn: [training, {GITHUB_TOKEN}]}}", GITHUB_TOKEN),
    Leak("serve-on-jwt", "serveOn: [serving, edge]", f"serveOn: [serving, {JWT}]", JWT),
    Leak("wave-clusters-token", "  gitops:\n", f"  rollout: {{waves: [{{name: canary, clusters: [gcp-euw4, {GITHUB_TOKEN}]}}]}}\n  gitops:\n",
         GITHUB_TOKEN),
    Leak("secret-ref-key-aws-key-id", "auth: {secretRef: {name: vault-token}}",
         f"auth: {{secretRef: {{name: vault-token, key: {AWS_KEY_ID}}}}}", AWS_KEY_ID),
    Leak("annotation-slack-token", "    kserve: {runsOn: [serving, edge]}",
         "    kserve: {runsOn: [serving, edge], note: xoxb-1234567890-abcdefghijkl}", "xoxb-1234567890-abcdefghijkl"),
]


def _run(cwd: Path, *args: str, own_cache: bool = True) -> subprocess.CompletedProcess[str]:
    # Renders share the user's render cache (content-addressed, so sharing is safe and warm).
    cache = {"XDG_CACHE_HOME": str(cwd / "cache")} if own_cache else {}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", **cache}
    return subprocess.run([sys.executable, "-m", "stackgen", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _hidden(secret: str, text: str) -> bool:
    """Neither the secret nor anything past a four-character mask prefix is in `text`."""
    return secret not in text and secret[4:] not in text


@pytest.mark.parametrize("leak", LEAKS, ids=[leak.where for leak in LEAKS])
def test_a_literal_credential_is_refused_masked_and_printed_nowhere(tmp_path: Path, leak: Leak) -> None:
    assert leak.old in BUNDLED, leak.old
    stack = tmp_path / "stack.yaml"
    stack.write_text(BUNDLED.replace(leak.old, leak.new, 1))
    before = sorted(p.as_posix() for p in tmp_path.rglob("*"))
    text = _run(tmp_path, "validate", "-f", str(stack))
    as_json = _run(tmp_path, "build", "-f", str(stack), "-o", str(tmp_path / "out"), "--format", "json")
    assert text.returncode == 1 and as_json.returncode == 1, text.stderr + as_json.stderr
    printed = text.stdout + text.stderr + as_json.stdout + as_json.stderr
    assert _hidden(leak.secret, printed), printed
    # and not hidden by JSON escaping either: the parsed JSON says the same
    diagnostics = json.loads(as_json.stdout)
    assert _hidden(leak.secret, json.dumps(diagnostics, ensure_ascii=False))
    flagged = [d for d in diagnostics if d["code"] == "SG301"]
    assert flagged and all("****" in d["message"] for d in flagged), diagnostics
    assert "[SG301]" in text.stderr and "****" in text.stderr
    assert sorted(p.as_posix() for p in tmp_path.rglob("*") if "cache" not in p.parts) == before


def _free_text_fields(node: t.Any, trail: tuple[str, ...] = ()) -> set[str]:
    """Schema fields that take any string (no pattern, enum or const), named by their property."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "enum", "const"} & set(node):
            found.add(next(part for part in reversed(trail) if part not in ("items", "properties")))
        for key, value in node.items():
            found |= _free_text_fields(value, trail + (key,))
    elif isinstance(node, list):
        for value in node:
            found |= _free_text_fields(value, trail)
    return found


def test_every_free_text_field_of_the_schema_has_a_leak_case() -> None:
    """Patterned fields refuse most literals by shape; a free-text field takes anything, so each has
    its own case above. A new free-text field fails here until it gets one."""
    schema = json.loads((ROOT / "schemas" / "stack.schema.json").read_text())
    cases = {"runsOn": "runs-on-token", "serveOn": "serve-on-jwt", "key": "secret-ref-key-aws-key-id", "clusters": "wave-clusters-token"}
    assert _free_text_fields(schema) == set(cases)
    assert set(cases.values()) <= {leak.where for leak in LEAKS}


# --- rendered Secrets: goldens, render --format json, diff ---------------------------------


def _secret_values(resources: t.Iterable[dict[str, t.Any]]) -> set[str]:
    """Every value a rendered Secret carries, as written and decoded, long enough to search for."""
    found: set[str] = set()
    for resource in resources:
        if resource.get("kind") != "Secret":
            continue
        for field in ("data", "stringData"):
            for value in (resource.get(field) or {}).values():
                value = str(value)
                found.add(value)
                if field == "data":
                    try:
                        found.add(base64.b64decode(value).decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        pass
    return {v for v in found if len(v.strip()) >= 6}


CLUSTER = "aws-use1"
"""The bundled cluster whose units ship upstream's default credentials (Dex, OAuth2, Katib,
Model Registry and Pipelines MySQL, the object store): the values a leak would carry."""


@requires_upstream
def test_rendered_secret_values_reach_no_golden_json_or_diff(tmp_path: Path) -> None:
    from stackgen import kustomize as kz

    try:
        kz.find_kustomize()
    except kz.KustomizeNotFound as error:
        pytest.skip(str(error))
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "stack.yaml", project / "stack.yaml")
    shutil.copytree(ROOT / "overlays", project / "overlays")
    common = ["--upstream", str(UPSTREAM), "-f", str(project / "stack.yaml"), "--cluster", CLUSTER, "--quiet"]
    full = _run(project, "render", *common, "-o", str(tmp_path / "full"), "--golden-format", "full", "--format", "json", own_cache=False)
    assert full.returncode == 0, full.stderr
    compact = _run(project, "render", *common, "-o", str(tmp_path / "compact"), own_cache=False)
    assert compact.returncode == 0, compact.stderr
    outputs = {"render --format json": full.stdout + full.stderr, "render": compact.stdout + compact.stderr}
    # diff against goldens that differ from this render (the committed ones, one replica fewer
    # and a Secret's digest changed), so every format prints field values
    (tmp_path / "old").mkdir()
    shutil.copytree(tmp_path / "full" / CLUSTER, tmp_path / "old" / CLUSTER)
    _tamper(tmp_path / "old" / CLUSTER)
    for output_format in ("text", "markdown", "json"):
        done = _run(project, "diff", *common, "--golden", str(tmp_path / "old"), "--format", output_format, own_cache=False)
        assert done.returncode == 1, done.stderr
        outputs[f"diff --format {output_format}"] = done.stdout + done.stderr
    assert "sha256:" in outputs["diff --format json"]  # the Secret's change is shown, as digests
    for root in (tmp_path / "full", tmp_path / "compact"):
        for path in root.rglob("*"):
            if path.is_file():
                outputs[str(path.relative_to(tmp_path))] = path.read_text("utf-8", errors="replace")
    values = _pristine_secret_values(project)
    assert len(values) >= 5, "the pristine render should carry upstream's default credentials"
    leaks = sorted({(name, value[:6] + "...") for name, text in outputs.items() for value in values if value in text})
    assert leaks == []
    for path in (tmp_path / "full").rglob("secret.*.yaml"):
        body = yaml.safe_load(path.read_text()) or {}
        for field in ("data", "stringData"):
            assert all(str(v).startswith("sha256:") for v in (body.get(field) or {}).values()), path


def _tamper(golden: Path) -> None:
    """Give the golden an upstream Secret with a (digested) value the render no longer has."""
    [secret] = sorted((golden / "resources").glob("secret.*.yaml"))[:1]
    body = yaml.safe_load(secret.read_text())
    body["data"] = {"password": "sha256:" + "0" * 64}
    secret.write_text(yaml.safe_dump(body))
    index = yaml.safe_load((golden / "index.yaml").read_text())
    for entry in index["resources"]:
        if entry["kind"] == "Secret" and secret.name.endswith(f".{entry['name']}.yaml"):
            entry["sha256"] = "0" * 64
    (golden / "index.yaml").write_text(yaml.safe_dump(index))


def _pristine_secret_values(project: Path) -> set[str]:
    """Every value of every Secret upstream ships in this cluster's units, before stackgen's patches."""
    from stackgen import kustomize as kz
    from stackgen import render as render_
    from stackgen.driver import compile_checked
    from tests.compiling import checked

    layout = compile_checked(checked(project / "stack.yaml")).layout
    result = render_.render(project / "overlays", UPSTREAM, kz.find_kustomize(), layout, [CLUSTER], 0, render_.cache_root(), None, pristine=True)
    assert not any(c.error for c in result.clusters)
    values: set[str] = set()
    for resources in [*result.pristine.values(), *(c.resources for c in result.clusters)]:
        values |= _secret_values(resources)
    return values
