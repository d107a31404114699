"""How the CLI talks: diagnostic formats CI systems read, colour, --quiet/--verbose, progress, --version.

Terminal behaviour is tested on a real pseudo-terminal, since that is what `auto` colour and the
progress line look at.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackgen.cli import cli
from stackgen.diagnostics import Diagnostic, github_annotation, render_github
from tests.compiling import BUNDLED, ROOT
from tests.upstream import UPSTREAM, requires_upstream

ESC = "\033["
BROKEN = "apiVersion: stackgen.io/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec:\n  clusters: []\n  regoin: x\n"


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def _on_a_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str]:
    """Runs the CLI with stderr on a real pty; returns (exit code, stdout, what the terminal showed)."""
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI", "TERM")} | {"TERM": "xterm"} | env
    environment["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen([sys.executable, "-m", "stackgen", *args], cwd=cwd, env=environment,
                               stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = bytearray()
    while True:
        ready, _, _ = select.select([controller], [], [], 300)
        if not ready:
            process.kill()
            raise AssertionError("the CLI hung on a terminal")
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=60)
    return process.returncode, stdout, shown.decode("utf-8", "replace")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "stack.yaml").write_text(BROKEN)
    return tmp_path / "broken"


def test_github_annotations_point_at_the_line_and_column(broken: Path) -> None:
    result = _run("validate", "-f", str(broken / "stack.yaml"), "--format", "github")
    assert result.exit_code == 1
    file = str(broken / "stack.yaml").replace(":", "%3A").replace(",", "%2C")
    assert result.stdout.splitlines() == [
        f"::error file={file},line=5,col=3,title=SG102::missing required key `gitops` in spec",
        f"::error file={file},line=5,col=13,title=SG106::`clusters` needs at least 1 item",
        f"::error file={file},line=6,col=3,title=SG101::unknown key `regoin` in spec",
    ]
    assert result.stderr == ""


def test_github_escaping_keeps_each_annotation_on_one_line() -> None:
    text = github_annotation("error", "50% of a\nmessage", "SG1", "dir,with:odd/stack.yaml", 3, 4, "try this")
    assert text == "::error file=dir%2Cwith%3Aodd/stack.yaml,line=3,col=4,title=SG1::50%25 of a%0Amessage%0Ahint: try this"
    many = [Diagnostic("b.yaml", 1, 1, "warning", "SG2", "w"), Diagnostic("a.yaml", 2, 5, "error", "SG1", "e")]
    assert render_github(many).splitlines() == [
        "::error file=a.yaml,line=2,col=5,title=SG1::e",
        "::warning file=b.yaml,line=1,col=1,title=SG2::w",
    ]


def test_colour_only_when_asked_or_on_a_terminal_without_no_color(broken: Path) -> None:
    stack = str(broken / "stack.yaml")
    assert ESC not in _run("validate", "-f", stack).stderr  # auto, and CliRunner is no terminal
    assert ESC not in _run("validate", "-f", stack, "--color", "never").stderr
    painted = _run("validate", "-f", stack, "--color", "always", env={"NO_COLOR": "1"})
    assert f"{ESC}1;31merror:" in painted.stderr and painted.exit_code == 1
    assert f"{ESC}1;31merror:" in _run("--color", "always", "validate", "-f", stack).stderr
    code, _, shown = _on_a_terminal(["validate", "-f", stack], broken)
    assert code == 1 and f"{ESC}1;31merror:" in shown
    code, _, shown = _on_a_terminal(["validate", "-f", stack], broken, NO_COLOR="1")
    assert code == 1 and ESC not in shown and "error:" in shown
    code, _, shown = _on_a_terminal(["validate", "-f", stack, "--color", "never"], broken)
    assert ESC not in shown


def test_quiet_says_nothing_on_success_but_still_reports_errors(tmp_path: Path, broken: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    stack = str(tmp_path / "stack.yaml")
    for args in (["-q", "build", "-f", stack], ["build", "-f", stack, "--quiet"], ["validate", "-q", "-f", stack]):
        result = _run(*args)
        assert result.exit_code == 0 and result.stdout == "" and result.stderr == "", args
    assert (tmp_path / "overlays" / ".stackgen.lock").is_file()
    failed = _run("validate", "-q", "-f", str(broken / "stack.yaml"))
    assert failed.exit_code == 1 and failed.stdout == ""
    assert failed.stderr.splitlines() == [
        f"{broken / 'stack.yaml'}:5:3: error: missing required key `gitops` in spec [SG102]",
        f"{broken / 'stack.yaml'}:5:13: error: `clusters` needs at least 1 item [SG106]",
        f"{broken / 'stack.yaml'}:6:3: error: unknown key `regoin` in spec [SG101]",
    ]


def test_verbose_names_every_file_written_and_where_things_went(tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    stack = str(tmp_path / "stack.yaml")
    built = _run("build", "-v", "-f", stack)
    assert built.exit_code == 0
    written = [line for line in built.stderr.splitlines() if line.endswith(": added")]
    lock = json.loads((tmp_path / "overlays" / ".stackgen.lock").read_text())
    assert len(written) == len(lock["files"]) > 20
    placed = _run("--verbose", "validate", "-f", stack)
    assert placed.exit_code == 0 and placed.stdout == f"{stack}: valid (4 clusters)\n"
    assert placed.stderr.splitlines() == [
        "aws-use1 (aws): kubeflow-namespace, cert-manager, istio, auth, profiles, poddefaults, pipelines, notebooks, katib, trainer, "
        "model-registry, tensorboard, centraldashboard; 1 training job, 0 models",
        "azure-weu (azure): kubeflow-namespace, cert-manager, istio, knative, auth, profiles, poddefaults, notebooks, kserve, tensorboard, "
        "centraldashboard; 0 training jobs, 1 model",
        "edge-store17 (onprem): kubeflow-namespace, cert-manager, kserve; 0 training jobs, 1 model",
        "gcp-euw4 (gcp): kubeflow-namespace, cert-manager, istio, knative, kserve; 0 training jobs, 1 model",
    ]


def test_quiet_and_verbose_together_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    result = CliRunner().invoke(cli, ["-q", "build", "-v", "-f", str(tmp_path / "stack.yaml")])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_version_names_stackgen_kustomize_and_the_pinned_release(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None and shutil.which("kustomize") is None:
        pytest.skip("no kustomize or kubectl on PATH")
    result = _run("--version", env={"XDG_CACHE_HOME": str(tmp_path)})
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("stackgen 0.")
    assert lines[1].startswith("kustomize v")
    assert lines[2:4] == ["kubeflow/manifests v1.11.0 (not vendored: `stackgen vendor --from DIR`)",
                          "kubeflow/manifests 26.03 (not vendored: `stackgen vendor --from DIR`)"]
    missing = _run("--version", env={"STACKGEN_KUSTOMIZE": str(tmp_path / "nothing-here"), "XDG_CACHE_HOME": str(tmp_path)})
    assert missing.exit_code == 0 and "kustomize: not found" in missing.stdout


@requires_upstream
def test_version_says_where_the_pin_is_vendored(tmp_path: Path) -> None:
    assert _run("vendor", "--from", str(UPSTREAM), env={"XDG_CACHE_HOME": str(tmp_path)}).exit_code == 0
    result = _run("--version", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.exit_code == 0
    assert f"kubeflow/manifests 26.03 (vendored at {tmp_path / 'stackgen' / 'upstream' / '26.03'})" in result.stdout


@requires_upstream
def test_render_progress_shows_on_a_terminal_and_never_in_ci(tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "stack.yaml")
    assert _run("build", "-f", str(tmp_path / "stack.yaml")).exit_code == 0
    base = ["render", "--upstream", str(UPSTREAM), "--cluster", "edge-store17", "--jobs", "2"]

    def run(*extra: str, **env: str) -> tuple[int, str, str]:
        return _on_a_terminal([*base, *extra], tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache"), **env)

    code, stdout, shown = run()  # cold: every piece built
    assert code == 0, shown
    assert "rendering: 0/1 clusters ready, kustomize build 1/" in shown
    assert "rendering: 1/1 clusters ready" in shown and ": edge-store17 ready" in shown
    assert "rendered 1 cluster with" in stdout
    code, stdout, shown = run()  # warm: served from the cache, still shown
    assert code == 0 and "cached: edge-store17 ready" in shown
    code, stdout, shown = run(CI="true")
    assert code == 0 and "rendering:" not in shown and "rendered 1 cluster with" in stdout
    code, stdout, shown = run("--quiet")
    assert code == 0 and "rendering:" not in shown and stdout == ""
