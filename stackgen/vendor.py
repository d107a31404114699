"""vendor: fill the local upstream cache from a mirror folder laid out as ../shared/upstream.

The cache holds one folder per pin, `$XDG_CACHE_HOME/stackgen/upstream/<tag>/`, so renders work
offline and air-gapped. The copy is made beside the target and renamed into place: a cache
folder is either complete or absent.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import typing as t
from pathlib import Path

import yaml

from stackgen import catalog
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


# --- upstream.mode: vendored ----------------------------------------------------------------
#
# The units' upstream, written into the output folder so that a plain `kustomize build` of any
# cluster needs no network: `upstream/<release>/` laid out as the mirror is (kubeflow-manifests/
# and remote/), holding only what the units' kustomizations reach, and with each remote base an
# upstream kustomization pulls (Argo Workflows, LWS, JobSet) pointed at its copy by relative path.

_UNIT_PREFIX = catalog.UNIT_TO_VENDORED


def used_paths(tree: t.Mapping[str, bytes]) -> dict[str, set[str]]:
    """release -> the kubeflow/manifests paths the compiled units name (what to vendor)."""
    used: dict[str, set[str]] = {}
    for name, content in tree.items():
        if not (name.startswith("units/") and name.endswith("/kustomization.yaml")):
            continue
        body = yaml.load(content, Loader=mirrors.LOADER) or {}  # noqa: S506 - a safe loader; the compiler's own output
        for reference in body.get("resources") or []:
            if isinstance(reference, str) and reference.startswith(_UNIT_PREFIX):
                release, _, rest = reference[len(_UNIT_PREFIX):].partition("/")
                used.setdefault(release, set()).add(rest.partition("/")[2])
    return used


def vendored_files(mirror_root: Path, release: str, paths: t.Iterable[str]) -> dict[str, bytes]:
    """`upstream/<release>/...` -> bytes: every file the kustomizations at `paths` reach, followed
    through the mirror (local references and the remote bases its `remotes.yaml` maps)."""
    mirror = mirrors.open_mirror(mirror_root)
    held = mirrors.kubeflow_ref(mirror)
    if held is not None and held != release:
        raise mirrors.MirrorError(f"{mirror_root}: holds kubeflow/manifests {held}, not {release}")
    root = mirror_root.resolve()
    files: dict[str, bytes] = {}
    pending = sorted({root / mirrors.MIRRORED_TREES[0] / p for p in paths})
    seen: set[Path] = set()
    while pending:  # each folder once: linear in what the units reach
        folder = pending.pop()
        if folder in seen:
            continue
        seen.add(folder)
        kustomization = next((folder / n for n in mirrors.KUSTOMIZATION_NAMES if (folder / n).is_file()), None)
        if kustomization is None:
            raise mirrors.MirrorError(f"{folder}: no kustomization in the mirror, which a vendored unit needs")
        text = _read_plain(kustomization).decode("utf-8")
        body = _kustomization(text, kustomization)
        for reference, target in _targets(mirror, root, kustomization, body):
            if reference is not None:  # a remote base: pointed at its vendored copy
                text = _repoint(text, reference, os.path.relpath(target, kustomization.parent))
            if target.is_dir() and not target.is_symlink():
                pending.append(target)
            else:
                files[_vendored_name(target, root, release)] = _read_plain(target)
        files[_vendored_name(kustomization, root, release)] = text.encode("utf-8")
    return dict(sorted(files.items()))


def _kustomization(text: bytes | str, shown_as: Path) -> t.Mapping[str, t.Any]:
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=mirrors.LOADER)):
            raise mirrors.MirrorError(f"{shown_as}: YAML aliases are not allowed in a kustomization stackgen vendors")
        body = yaml.load(text, Loader=mirrors.LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        raise mirrors.MirrorError(f"{shown_as}: not valid YAML") from None
    if not isinstance(body, dict):
        raise mirrors.MirrorError(f"{shown_as}: not a kustomization (a mapping)")
    return body


def _targets(mirror: mirrors.Mirror, root: Path, kustomization: Path, body: t.Mapping[str, t.Any]) -> t.Iterator[tuple[str | None, Path]]:
    """(the remote URL or None, the file or folder in the mirror) of everything the kustomization loads."""
    for field, reference in mirrors.references(body):
        if mirrors.is_remote(reference):
            target = mirrors.resolve(mirror, reference.strip()) if field in mirrors.REWRITTEN else None
            if target is None:
                raise mirrors.MirrorError(f"{kustomization}: `{field}` names {reference[:200]}, which the mirror does not map")
            yield reference, Path(os.path.normpath(target.resolve()))
            continue
        target = Path(os.path.normpath(kustomization.parent / reference))
        if os.path.isabs(reference) or not mirrors.inside(root, target):
            raise mirrors.MirrorError(f"{kustomization}: `{field}` names {reference[:200]}, outside the mirror; not vendored")
        yield None, target


def _repoint(text: str, url: str, relative: str) -> str:
    # Text, not a re-dump: upstream's comments and layout stay as they are, only the URL changes.
    return text.replace(url, relative)


def _vendored_name(path: Path, root: Path, release: str) -> str:
    return f"{catalog.VENDORED_ROOT}/{release}/{path.relative_to(root).as_posix()}"


def _read_plain(path: Path) -> bytes:
    """A regular file's bytes, opened without following a link."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise mirrors.MirrorError(f"{path}: cannot be read as a plain file of the mirror ({error.strerror or error})") from None
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise mirrors.MirrorError(f"{path}: is not a regular file; an upstream mirror is read as plain files only")
        content = handle.read()
    return content
