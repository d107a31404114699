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
    assert (result.stdout, result.stderr) == (f"{project / 'stack.yaml'}: valid (4 clusters)\n", "")


def test_build_defaults_to_gitops_path_beside_the_stack(project: Path) -> None:
    result = _run("build", "-f", str(project / "stack.yaml"))
    assert result.exit_code == 0, result.output
    assert (project / "overlays" / "clusters" / "aws-use1" / "kustomization.yaml").is_file()
    assert (project / "overlays" / ".stackgen.lock").is_file()
    again = _run("build", "-f", str(project / "stack.yaml"))
    assert (again.exit_code, again.stdout, again.stderr) == (0, f"{project / 'overlays'}: up to date\n", "")


def test_check_is_quiet_when_fresh_and_lists_stale_files(project: Path) -> None:
    stack = str(project / "stack.yaml")
    assert _run("build", "-f", stack).exit_code == 0
    assert _run("build", "--check", "-f", stack).exit_code == 0
    text = (project / "stack.yaml").read_text().replace("replicas: 2", "replicas: 3")
    (project / "stack.yaml").write_text(text)
    before = _snapshot(project / "overlays")
    result = _run("build", "--check", "-f", stack)
    assert result.exit_code == 1
    out = project / "overlays"
    assert result.stderr == "".join(f"{out}/clusters/{c}/own/inferenceservice-resnet50.yaml: differs\n" for c in ("azure-weu", "edge-store17", "gcp-euw4"))
    assert result.stdout == f"{out}: stale: 0 added, 3 changed, 0 removed\n"
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
    # The edge role's selectors now match nothing (warnings, at each), and the user's file is kept.
    edge = "warning: no cluster has role `edge` (yet); this selector matches nothing [SG209]"
    assert result.stderr.splitlines() == [*(f"{stack}:{at}: {edge}" for at in ("55:32", "61:104", "72:121", "74:109")),
                                          f"{notes}: warning: not written by stackgen; kept as is"]


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
    # Nothing built yet: render stops at the stale overlays, before it would look for the cluster.
    stale = _run("render", "--format", "json", "-f", str(project / "stack.yaml"), "--cluster", "nope")
    assert (stale.exit_code, stale.stderr) == (1, "")
    assert json.loads(stale.stdout) == [{"file": str(project / "overlays"), "line": None, "column": None, "severity": "error", "code": "SG705",
                                         "message": "overlays are stale or missing; run `stackgen build` first", "path": None, "hint": None}]
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
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "schemas" / "stack.schema.json").read_text()


def test_explain_and_graph(project: Path) -> None:
    stack = str(project / "stack.yaml")
    job = _run("explain", "-f", stack, "trainingJob/resnet50")
    assert job.exit_code == 0 and "runs on aws-use1" in job.stdout
    unknown = _run("explain", "-f", stack, "model/nope")
    assert (unknown.exit_code, unknown.stdout, unknown.stderr) == (1, "", "error: `model/nope`: stack.yaml declares no model named `nope` [SG202]\n")
    cluster = _run("explain", "-f", stack, "cluster/nope")
    assert (cluster.exit_code, cluster.stderr) == (1, "error: `cluster/nope`: stack.yaml declares no cluster named `nope` [SG706]\n")
    dot = _run("graph", "-f", stack)
    assert dot.exit_code == 0 and dot.stdout.startswith('digraph "acme-ml"') and "job_resnet50 -> cluster_aws_use1" in dot.stdout
    mermaid = _run("graph", "--format", "mermaid", "-f", stack)
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("flowchart LR")


def test_explain_cluster_says_what_the_first_sync_needs_beforehand(project: Path) -> None:
    """docs/first-sync.md: what stackgen does not deliver, per cluster, from its stack.yaml."""
    stack = str(project / "stack.yaml")
    aws = _run("explain", "-f", stack, "cluster/aws-use1")
    assert aws.exit_code == 0
    needs = [line.strip().removeprefix("before the first sync: ") for line in aws.stdout.splitlines() if "before the first sync:" in line]
    secrets = ["ml/s3", *(f"stackgen/aws-use1/{ref}" for ref in ("auth/dex-oidc-client", "auth/dex-passwords", "kubeflow/katib-mysql-secrets",
               "kubeflow/mlpipeline-minio-artifact", "kubeflow/model-registry-db-secrets", "kubeflow/mysql-secret", "oauth2-proxy/oauth2-proxy"))]
    assert needs == [
        "Argo CD with the argoproj.io/Application health check in argocd-cm, or sync waves order nothing (docs/first-sync.md gives the snippet)",
        "a default StorageClass (Kubeflow's MySQL and object-store claims name none)",
        "the Amazon EBS CSI driver (an EKS add-on): the gp3 StorageClass stackgen writes provisions through it",
        "no load balancer controller: the gateway is an internal NLB of the in-tree cloud provider "
        "(EKS Auto Mode clusters handle Services themselves and need `loadBalancerClass`)",
        "GPU nodes from the cloud's GPU node image: its NVIDIA driver is used (the operator's is off)",
        "IAM role arn:aws:iam::123456789012:role/acme-ml-workloads trusting the cluster's OIDC provider for "
        "auth/stackgen-workload, kubeflow/stackgen-workload, ml/stackgen-workload, oauth2-proxy/stackgen-workload",
        "the remote secrets, with fresh values: " + "; ".join(f"aws-secrets-manager {ref}" for ref in secrets),
    ]
    gcp = _run("explain", "-f", stack, "cluster/gcp-euw4")
    assert gcp.exit_code == 0 and "GPU quota" in gcp.stdout and "roles/iam.workloadIdentityUser" in gcp.stdout
    edge = _run("explain", "-f", stack, "cluster/edge-store17")
    assert edge.exit_code == 0 and "vault (you create them, namespaces too): ml/vault-token" in edge.stdout


def _console(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # The console script of the interpreter running the tests, not whichever `stackgen` PATH finds first.
    beside = Path(sys.executable).with_name("stackgen")
    script = str(beside) if beside.is_file() else shutil.which("stackgen")
    command = [script] if script else [sys.executable, "-c", "from stackgen.cli import main; main()"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_console_script_as_a_real_subprocess(project: Path) -> None:
    done = _console(["build"], project)
    assert done.returncode == 0, done.stderr
    bad = project / "bad.yaml"
    bad.write_bytes(b"apiVersion: stackgen.io/v1alpha1\nkind: Stack\nkind: Stack\n")
    failed = _console(["validate", "-f", "bad.yaml"], project)
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr == "bad.yaml:3:1: error: duplicate key `kind` (first defined at line 2, column 1) [SG014]\n"


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
