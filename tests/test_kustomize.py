"""Finding kustomize: explicit path, $STACKGEN_KUSTOMIZE, PATH, then kubectl; clear errors."""

from __future__ import annotations

import shutil
import stat
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


def test_none_found_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(kz.KustomizeNotFound, match=r"pip install 'stackgen\[kustomize\]'"):
        kz.find_kustomize(None, {"PATH": str(tmp_path)})
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
