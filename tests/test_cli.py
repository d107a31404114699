"""End to end through the CLI: exit codes, output, ownership, and the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from stackgen.cli import cli
from tests.compiling import BUNDLED, ROOT


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    return tmp_path


def test_validate_ok(project: Path) -> None:
    result = _run("validate", "-f", str(project / "stack.yaml"))
    assert result.exit_code == 0, result.output
    assert "valid (4 clusters)" in result.stdout


def test_build_defaults_to_gitops_path_beside_the_stack(project: Path) -> None:
    result = _run("build", "-f", str(project / "stack.yaml"))
    assert result.exit_code == 0, result.output
    assert (project / "overlays" / "clusters" / "aws-use1" / "kustomization.yaml").is_file()
    assert (project / "overlays" / ".stackgen.lock").is_file()
    again = _run("build", "-f", str(project / "stack.yaml"))
    assert again.exit_code == 0 and "up to date" in again.stdout


def test_check_is_quiet_when_fresh_and_lists_stale_files(project: Path) -> None:
    stack = str(project / "stack.yaml")
    assert _run("build", "-f", stack).exit_code == 0
    assert _run("build", "--check", "-f", stack).exit_code == 0
    text = (project / "stack.yaml").read_text().replace("replicas: 2", "replicas: 3")
    (project / "stack.yaml").write_text(text)
    before = _snapshot(project / "overlays")
    result = _run("build", "--check", "-f", stack)
    assert result.exit_code == 1
    assert "inferenceservice-resnet50.yaml: differs" in result.stderr
    assert _snapshot(project / "overlays") == before


def test_removed_cluster_disappears_and_users_file_stays(project: Path) -> None:
    stack = project / "stack.yaml"
    assert _run("build", "-f", str(stack)).exit_code == 0
    notes = project / "overlays" / "clusters" / "edge-store17" / "NOTES.md"
    notes.write_text("site contact: ...")
    text = stack.read_text()
    start = text.index("    - name: edge-store17")
    end = text.index("  components:")
    stack.write_text(text[:start] + text[end:])
    result = _run("build", "-f", str(stack))
    assert result.exit_code == 0, result.output
    assert not (project / "overlays" / "clusters" / "edge-store17" / "kustomization.yaml").exists()
    assert not (project / "overlays" / "units" / "kserve-edge-store17").exists()
    assert notes.read_text() == "site contact: ..."
    assert "NOTES.md: warning: not written by stackgen" in result.stderr


def test_output_with_foreign_files_and_no_lock_is_refused(project: Path) -> None:
    out = project / "elsewhere"
    out.mkdir()
    (out / "README.md").write_text("not yours")
    result = _run("build", "-f", str(project / "stack.yaml"), "-o", str(out))
    assert result.exit_code == 2  # an environment error: the folder is not stackgen's (README, exit codes)
    assert result.stderr.startswith(f"{out}: error: output directory holds files (README.md) but no .stackgen.lock")
    assert result.stderr.rstrip().endswith("[SG701]")
    assert _snapshot(out) == {"README.md": b"not yours"}


def test_environment_errors_with_format_json_are_one_json_list_on_stdout(project: Path) -> None:
    out = project / "elsewhere"
    out.mkdir()
    (out / "README.md").write_text("not yours")
    result = _run("build", "--format", "json", "-f", str(project / "stack.yaml"), "-o", str(out))
    assert result.exit_code == 2 and result.stderr == ""
    [error] = json.loads(result.stdout)
    assert error == {"file": str(out), "line": None, "column": None, "severity": "error", "code": "SG701",
                     "message": error["message"], "path": None, "hint": None}
    assert "no .stackgen.lock" in error["message"]
    unknown = _run("render", "--format", "json", "-f", str(project / "stack.yaml"), "--cluster", "nope")
    assert unknown.exit_code in (1, 2)
    assert [e["severity"] for e in json.loads(unknown.stdout)] == ["error"]
    valid = _run("validate", "--format", "json", "-f", str(project / "stack.yaml"))
    assert (valid.exit_code, json.loads(valid.stdout)) == (0, [])


def test_every_option_says_what_it_does() -> None:
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"stackgen {name} {param.opts[-1]} has no help text"


def test_json_diagnostics(project: Path) -> None:
    (project / "stack.yaml").write_text((project / "stack.yaml").read_text().replace("cloud: gcp", "cloud: gpc"))
    result = _run("validate", "--format", "json", "-f", str(project / "stack.yaml"))
    assert result.exit_code == 1
    [diagnostic] = json.loads(result.stdout)
    assert set(diagnostic) == {"file", "line", "column", "severity", "code", "message", "path", "hint"}
    assert (diagnostic["code"], diagnostic["path"], diagnostic["hint"]) == ("SG103", "$.spec.clusters[1].cloud", "did you mean `gcp`?")


def test_usage_errors_exit_2(project: Path) -> None:
    assert CliRunner().invoke(cli, ["build", "--no-such-flag"]).exit_code == 2
    assert CliRunner().invoke(cli, ["validate", "-f", str(project / "missing.yaml")]).exit_code == 2


def test_schema_prints_the_schema_file() -> None:
    result = _run("schema")
    assert result.stdout == (ROOT / "schemas" / "stack.schema.json").read_text()


def test_explain_and_graph(project: Path) -> None:
    stack = str(project / "stack.yaml")
    job = _run("explain", "-f", stack, "trainingJob/resnet50")
    assert job.exit_code == 0 and "runs on aws-use1" in job.stdout
    unknown = _run("explain", "-f", stack, "model/nope")
    assert unknown.exit_code == 1 and "declares no model named `nope`" in unknown.stderr
    dot = _run("graph", "-f", stack)
    assert dot.stdout.startswith('digraph "acme-ml"') and "job_resnet50 -> cluster_aws_use1" in dot.stdout
    mermaid = _run("graph", "--format", "mermaid", "-f", stack)
    assert mermaid.stdout.startswith("flowchart LR")


def test_explain_cluster_says_what_the_first_sync_needs_beforehand(project: Path) -> None:
    """docs/first-sync.md: what stackgen does not deliver, per cluster, from its stack.yaml."""
    stack = str(project / "stack.yaml")
    aws = _run("explain", "-f", stack, "cluster/aws-use1")
    assert aws.exit_code == 0
    needs = [line.strip().removeprefix("before the first sync: ") for line in aws.stdout.splitlines() if "before the first sync:" in line]
    assert needs[0].startswith("Argo CD with the argoproj.io/Application health check in argocd-cm")
    assert any(n.startswith("the Amazon EBS CSI driver") for n in needs)
    assert any("arn:aws:iam::123456789012:role/acme-ml-workloads" in n and "auth/stackgen-workload" in n for n in needs)
    gcp = _run("explain", "-f", stack, "cluster/gcp-euw4").stdout
    assert "GPU quota" in gcp and "roles/iam.workloadIdentityUser" in gcp
    edge = _run("explain", "-f", stack, "cluster/edge-store17").stdout
    assert "vault (you create them, namespaces too): ml/vault-token" in edge


def _console(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("stackgen")
    command = [script] if script else [sys.executable, "-c", "from stackgen.cli import main; main()"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_console_script_as_a_real_subprocess(project: Path) -> None:
    done = _console(["build"], project)
    assert done.returncode == 0, done.stderr
    bad = project / "bad.yaml"
    bad.write_bytes(b"apiVersion: stackgen.io/v1alpha1\nkind: Stack\nkind: Stack\n")
    failed = _console(["validate", "-f", "bad.yaml"], project)
    assert failed.returncode == 1
    assert failed.stderr.startswith("bad.yaml:3:1: error: duplicate key `kind`")
    assert "Traceback" not in failed.stderr


def test_output_is_identical_whatever_the_hash_seed_locale_or_cwd(tmp_path: Path) -> None:
    trees = []
    for index, (seed, locale) in enumerate([("0", "C"), ("12345", "C.UTF-8"), ("random", "POSIX")]):
        work = tmp_path / f"run{index}" / ("nested" * index)
        work.mkdir(parents=True)
        shutil.copy(BUNDLED, work / "stack.yaml")
        done = _console(["build", "-f", str(work / "stack.yaml")], tmp_path, PYTHONHASHSEED=seed, LC_ALL=locale, LANG=locale)
        assert done.returncode == 0, done.stderr
        trees.append(_snapshot(work / "overlays"))
    assert trees[0] == trees[1] == trees[2]


def test_committed_overlays_are_fresh() -> None:
    result = _run("build", "--check", "-f", str(BUNDLED))
    assert result.exit_code == 0, result.output + result.stderr


def test_render_of_an_invalid_stack_with_format_json_reports_it_in_the_json_list(project: Path) -> None:
    (project / "stack.yaml").write_text((project / "stack.yaml").read_text().replace("cloud: gcp", "cloud: gpc"))
    result = _run("render", "--format", "json", "-f", str(project / "stack.yaml"))
    assert result.exit_code == 1 and result.stderr == ""
    assert [d["code"] for d in json.loads(result.stdout)] == ["SG103"]
