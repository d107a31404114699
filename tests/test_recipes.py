"""The CI recipes in docs/ci/ and the pre-commit hooks work as written: their shell lines run.

Each recipe runs in a clone of a small git history made from this repository's stack.yaml,
overlays/ and golden/: `main` as committed here, and a pull-request branch that changes one
model's replicas, rebuilt and re-rendered. `stackgen` on PATH is a shim for `python3 -m stackgen`
of this checkout. Lines that only make sense on the CI platform (installing the package,
fetching the mirror, posting a comment) are skipped by the explicit SKIPPED list below; every
other line runs under bash with -e and -o pipefail, as both platforms run them.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml

from tests.compiling import ROOT
from tests.running import install_shim, shell_environment
from tests.upstream import UPSTREAM, requires_upstream

GITHUB = ROOT / "docs" / "ci" / "github-actions.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
PIN = "26.03"

# Substrings marking a line as CI-platform-only. Keep this list small: anything else must run.
SKIPPED = (
    "pip install",      # the package: the shim stands in for it
    "git clone",        # the mirror: linked in from ../shared/upstream
    "curl ",            # posting the MR note
    "gh pr comment",    # posting the PR comment
)


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    script: str


def _runnable(script: str) -> str:
    return "\n".join(line for line in script.splitlines() if not any(marker in line for marker in SKIPPED))


def github_steps(workflow: t.Mapping[str, t.Any]) -> list[Step]:
    [job] = workflow["jobs"].values()
    return [Step(step.get("name", step["run"]), _runnable(step["run"])) for step in job["steps"] if "run" in step]


def gitlab_steps(job: t.Mapping[str, t.Any]) -> list[Step]:
    lines = [*job.get("before_script", []), *job["script"]]
    return [Step(line.splitlines()[0], _runnable(line)) for line in lines]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=stackgen tests", "-c", "user.email=tests@stackgen.invalid",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True)


def _stackgen(env: t.Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["stackgen", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)


@dataclasses.dataclass(frozen=True)
class History:
    origin: Path      # a bare repository: main, and the pull request's branch `pr`
    cache: Path       # XDG_CACHE_HOME holding the vendored pin and the warm render cache
    bin_dir: Path
    home: Path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    root = tmp_path_factory.mktemp("recipes")
    bin_dir, home, cache, seed = root / "bin", root / "home", root / "cache", root / "seed"
    install_shim(bin_dir)
    home.mkdir()
    seed.mkdir()
    for name in ("stack.yaml", "overlays", "golden"):
        source = ROOT / name
        shutil.copytree(source, seed / name) if source.is_dir() else shutil.copy(source, seed / name)
    _git(seed, "init", "-q")
    _git(seed, "add", ".")
    _git(seed, "commit", "-q", "-m", "base")
    _git(seed, "checkout", "-q", "-b", "pr")
    stack = seed / "stack.yaml"
    stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 3"))
    env = shell_environment(bin_dir, home, XDG_CACHE_HOME=str(cache))
    for args in (("build",), ("vendor", "--from", str(UPSTREAM), "--pin", PIN), ("render",)):
        result = _stackgen(env, seed, *args)
        assert result.returncode == 0, f"stackgen {' '.join(args)}:\n{result.stdout}{result.stderr}"
    _git(seed, "add", ".")
    _git(seed, "commit", "-q", "-m", "serve resnet50 with 3 replicas")
    _git(root, "clone", "-q", "--bare", str(seed), str(root / "origin.git"))
    return History(root / "origin.git", cache, bin_dir, home)


def _checkout(history: History, where: Path) -> Path:
    """What the platform's checkout gives the job: the branch, with `origin` to fetch from."""
    _git(where.parent, "clone", "-q", "--branch", "pr", str(history.origin), str(where))
    mirror = where / "upstream-mirror"
    mirror.mkdir()
    (mirror / PIN).symlink_to(UPSTREAM, target_is_directory=True)
    return where


def _run(steps: t.Sequence[Step], cwd: Path, env: t.Mapping[str, str]) -> list[tuple[Step, subprocess.CompletedProcess[str]]]:
    """Run steps in order like the platform: stop at the first that fails."""
    results = []
    for step in steps:
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.script],
                                cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
        results.append((step, result))
        if result.returncode != 0:
            break
    return results


def _report(results: t.Sequence[tuple[Step, subprocess.CompletedProcess[str]]]) -> str:
    return "\n".join(f"--- {step.name}: exit {r.returncode}\n{r.stdout}{r.stderr}" for step, r in results)


def _github_env(history: History, job: t.Mapping[str, t.Any], workflow: t.Mapping[str, t.Any], tmp_path: Path) -> dict[str, str]:
    (tmp_path / "runner").mkdir()
    declared = {**workflow.get("env", {}), **job.get("env", {})}
    # XDG_CACHE_HOME stands for what the actions/cache step restores into ~/.cache.
    platform = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main", "RUNNER_TEMP": str(tmp_path / "runner"),
                "XDG_CACHE_HOME": str(history.cache)}
    return shell_environment(history.bin_dir, history.home, **platform, **{k: str(v) for k, v in declared.items()})


def _gitlab_env(history: History, job: t.Mapping[str, t.Any], project: Path) -> dict[str, str]:
    platform = {"CI_PROJECT_DIR": str(project), "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_JOB_TOKEN": "unused"}
    declared = {k: re.sub(r"\$\{?(\w+)\}?", lambda m: platform.get(m.group(1), m.group(0)), str(v))
                for k, v in job.get("variables", {}).items()}
    # What the job's `cache:` restores: the render cache from an earlier pipeline.
    render_cache = Path(declared["XDG_CACHE_HOME"]) / "stackgen" / "render"
    shutil.copytree(history.cache / "stackgen" / "render", render_cache)
    return shell_environment(history.bin_dir, history.home, **platform, **declared)


def test_recipes_parse_and_keep_their_skip_list_small() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    gitlab = yaml.safe_load(GITLAB.read_text())
    skipped = [line for line in (GITHUB.read_text() + GITLAB.read_text()).splitlines()
               if any(marker in line for marker in SKIPPED) and not line.lstrip().startswith("#")]
    assert len(skipped) == 4, skipped  # pip install twice, the mirror's git clone, the MR note's curl
    assert all(marker in "".join(skipped) for marker in SKIPPED[:3])
    assert workflow["defaults"]["run"]["shell"] == "bash"
    assert any(step.get("uses", "").startswith("marocchino/sticky-pull-request-comment") for step in workflow["jobs"]["stackgen"]["steps"])
    assert "diff.md" in gitlab["stackgen"]["artifacts"]["paths"]


@requires_upstream
def test_github_actions_recipe_runs(history: History, tmp_path: Path) -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    [job] = workflow["jobs"].values()
    repo = _checkout(history, tmp_path / "repo")
    results = _run(github_steps(workflow), repo, _github_env(history, job, workflow, tmp_path))
    assert [r.returncode for _, r in results] == [0] * len(github_steps(workflow)), _report(results)
    diff = (repo / "diff.md").read_text()
    assert diff.startswith("### stackgen diff") and "minReplicas" in diff and "`gcp-euw4`" in diff, diff


@requires_upstream
def test_gitlab_recipe_runs(history: History, tmp_path: Path) -> None:
    job = yaml.safe_load(GITLAB.read_text())["stackgen"]
    repo = _checkout(history, tmp_path / "repo")
    results = _run(gitlab_steps(job), repo, _gitlab_env(history, job, repo))
    assert [r.returncode for _, r in results] == [0] * len(gitlab_steps(job)), _report(results)
    diff = (repo / "diff.md").read_text()
    assert diff.startswith("### stackgen diff") and "minReplicas" in diff, diff


@requires_upstream
def test_recipes_fail_on_stale_overlays(history: History, tmp_path: Path) -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    [job] = workflow["jobs"].values()
    repo = _checkout(history, tmp_path / "repo")
    stack = repo / "stack.yaml"
    stack.write_text(stack.read_text().replace("replicas: 3", "replicas: 4"))
    results = _run(github_steps(workflow), repo, _github_env(history, job, workflow, tmp_path))
    step, failed = results[-1]
    assert "build --check" in step.script and failed.returncode == 1, _report(results)
    assert "inferenceservice-resnet50.yaml: differs" in failed.stderr


@pytest.fixture
def hook_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    for name in ("stack.yaml", "overlays"):
        source = ROOT / name
        shutil.copytree(source, tmp_path / name) if source.is_dir() else shutil.copy(source, tmp_path / name)
    install_shim(tmp_path / "bin")
    return tmp_path, shell_environment(tmp_path / "bin", tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache"))


def _hooks() -> dict[str, dict[str, t.Any]]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}


def _run_hook(hook: t.Mapping[str, t.Any], cwd: Path, env: t.Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    # pass_filenames is false: pre-commit runs the entry with the hook's args and nothing else.
    return subprocess.run([*shlex.split(hook["entry"]), *hook.get("args", [])], cwd=cwd, env=dict(env),
                          capture_output=True, text=True, check=False)


def test_hook_definitions() -> None:
    hooks = _hooks()
    assert set(hooks) == {"stackgen-validate", "stackgen-build-check"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "stack.yaml") and not re.search(hook["files"], "docs/stack.yaml.md")
    assert re.search(hooks["stackgen-build-check"]["files"], "overlays/clusters/aws-use1/kustomization.yaml")
    assert not re.search(hooks["stackgen-validate"]["files"], "overlays/clusters/aws-use1/kustomization.yaml")


def test_hooks_pass_on_a_fresh_stack(hook_project: tuple[Path, dict[str, str]]) -> None:
    project, env = hook_project
    for hook in _hooks().values():
        result = _run_hook(hook, project, env)
        assert result.returncode == 0, f"{hook['id']}: {result.stdout}{result.stderr}"


def test_hooks_fail_on_stale_overlays_and_invalid_stacks(hook_project: tuple[Path, dict[str, str]]) -> None:
    project, env = hook_project
    hooks = _hooks()
    stack = project / "stack.yaml"
    stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 5"))
    assert _run_hook(hooks["stackgen-validate"], project, env).returncode == 0
    stale = _run_hook(hooks["stackgen-build-check"], project, env)
    assert stale.returncode == 1 and "stale" in stale.stdout
    stack.write_text(stack.read_text().replace("cloud: aws", "cloud: amazon"))
    invalid = _run_hook(hooks["stackgen-validate"], project, env)
    assert invalid.returncode == 1 and "cloud" in invalid.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed (pip install pre-commit)")
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="pre-commit try-repo needs this checkout to be a git repository")
def test_pre_commit_try_repo(hook_project: tuple[Path, dict[str, str]]) -> None:
    # The real thing: pre-commit installs this repository into its own environment (under
    # PRE_COMMIT_HOME, never the shared interpreter) and runs both hooks from it.
    project, env = hook_project
    env = {**env, "PRE_COMMIT_HOME": str(project / "pre-commit-home")}
    _git(project, "init", "-q")
    _git(project, "add", "stack.yaml", "overlays")
    _git(project, "commit", "-q", "-m", "stack")

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pre-commit", "try-repo", str(ROOT), "--all-files"], cwd=project, env=env,
                              capture_output=True, text=True, check=False, timeout=500)

    fresh = try_repo()
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert re.search(r"stackgen validate\.+Passed", fresh.stdout) and re.search(r"stackgen build --check\.+Passed", fresh.stdout)
    stack = project / "stack.yaml"
    stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 5"))
    _git(project, "add", "stack.yaml")
    stale = try_repo()
    assert stale.returncode == 1 and re.search(r"stackgen build --check\.+Failed", stale.stdout), stale.stdout
