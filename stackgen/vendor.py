"""vendor: fill the local upstream cache from a mirror folder laid out as ../shared/upstream.

The cache holds one folder per pin, `$XDG_CACHE_HOME/stackgen/upstream/<tag>/`, so renders work
offline and air-gapped. The copy is made beside the target and renamed into place: a cache
folder is either complete or absent.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import typing as t
from pathlib import Path

from stackgen import mirror as mirrors

VENDORED = (*mirrors.MIRRORED_TREES, "crds", "remotes.yaml", "README.md")


_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_pin(pin: str) -> bool:
    """A release tag that names one folder of the cache: never `..`, `.`, empty, a path or absolute
    (`--pin ""` or `.` was the cache's parent, and replacing it deleted every other release)."""
    return _PIN.fullmatch(pin) is not None and ".." not in pin


def cache_dir(pin: str, env: t.Mapping[str, str] | None = None) -> Path:
    """The cache folder of one pin; MirrorError for a pin that is no release tag (it may come
    from a golden index, which is input)."""
    if not valid_pin(pin):
        raise mirrors.MirrorError(f"`{pin[:80]}` is not a release tag (letters, digits, `.`, `_` and `-`, no `..`)")
    environment = os.environ if env is None else env
    base = environment.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackgen" / "upstream" / pin


def vendor(source: Path, pin: str | None, env: t.Mapping[str, str] | None = None) -> tuple[str, Path]:
    """Copy the mirror at `source` into the cache folder of its release: `pin`, or without it the
    release its remote map names. Returns the pin and the folder."""
    held = mirrors.kubeflow_ref(mirrors.open_mirror(source))  # refuses a folder that is not a mirror
    if not (source / "kubeflow-manifests").is_dir():
        raise mirrors.MirrorError(f"{source}: no kubeflow-manifests/ folder")
    if pin is None:
        if held is None:
            raise mirrors.MirrorError(f"{source}: its remotes.yaml maps no kubeflow/manifests release; name it with --pin TAG")
        pin = held
    elif held is not None and held != pin:
        # Cached under the wrong tag, it would render one release while goldens record another.
        raise mirrors.MirrorError(f"{source}: holds kubeflow/manifests {held[:80]} (its remotes.yaml), not {pin[:80]}; "
                                  f"pass --pin {held[:80]} or leave --pin out")
    target = cache_dir(pin, env)
    for name in VENDORED:  # a mirror folder is a download from elsewhere: nothing in it is followed
        if (source / name).is_dir() or (source / name).is_symlink():
            mirrors.plain_tree(source / name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pin}-", dir=target.parent))
    try:
        for name in VENDORED:
            path = source / name
            if path.is_dir():
                shutil.copytree(path, staging / name)
            elif path.is_file():
                shutil.copy2(path, staging / name)
        if target.exists():
            old = target.with_name(f".{pin}-old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return pin, target
