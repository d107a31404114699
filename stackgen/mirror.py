"""Map remote kustomize bases onto a local mirror of the pinned upstream, for offline renders.

Overlays reference upstream as pinned remote URLs, and upstream pulls remote bases of its own
(Argo Workflows, LWS, JobSet). `materialize` copies the mirror and the overlays into a work
directory and rewrites each URL found in a kustomization into a relative path to its mirrored
copy, following the mirror's `remotes.yaml`. The mirror and the overlays are never changed.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MIRRORED_TREES = ("kubeflow-manifests", "remote")
_REMOTE = re.compile(r"^(https?://|git@|github\.com/|ssh://)")


class MirrorError(Exception):
    """The mirror is missing, or a remote base has no entry in it."""


@dataclass(frozen=True)
class RemoteEntry:
    url: str
    ref: str
    path: str


@dataclass(frozen=True)
class Mirror:
    root: Path
    entries: tuple[RemoteEntry, ...]


@dataclass(frozen=True)
class Workspace:
    root: Path
    overlays: Path
    upstream: Path


def open_mirror(root: Path) -> Mirror:
    index = root / "remotes.yaml"
    if not index.is_file():
        raise MirrorError(f"{root}: not an upstream mirror (no remotes.yaml); fill one with `stackgen vendor --from DIR`")
    try:
        raw = yaml.safe_load(index.read_text("utf-8"))
        entries = tuple(RemoteEntry(str(e["url"]), str(e["ref"]), str(e["path"]).strip()) for e in raw)
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise MirrorError(f"{index}: unreadable remote map ({error})") from None
    return Mirror(root, entries)


def _split(url: str) -> tuple[str, str | None]:
    base, _, query = url.partition("?")
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    return base, params.get("ref") or params.get("version")


def resolve(mirror: Mirror, url: str) -> Path | None:
    """The mirrored directory for a remote base URL, or None when the mirror lacks it."""
    base, ref = _split(url)
    for entry in sorted(mirror.entries, key=lambda e: -len(e.url)):
        if not (base + "/").startswith(entry.url if entry.url.endswith("/") else entry.url + "/") and base != entry.url:
            continue
        if base.endswith(".yaml") and base == entry.url:  # a release asset: the entry is its directory
            return mirror.root / entry.path
        if ref is not None and ref != entry.ref:
            continue
        rest = base[len(entry.url):].lstrip("/")
        return mirror.root / entry.path / rest if rest else mirror.root / entry.path
    return None


def _link_or_copy(source: str, target: str) -> None:
    # Hard links make the ~40 MB mirror free to "copy"; files that get rewritten are replaced
    # by new files (see _rewrite), never written through the shared inode.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _writable_dirs(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        mode = os.stat(directory).st_mode
        if not mode & stat.S_IWUSR:
            os.chmod(directory, mode | stat.S_IWUSR)


def materialize(mirror: Mirror, overlays: Path, dest: Path) -> Workspace:
    upstream = dest / "upstream"
    for tree in MIRRORED_TREES:
        if (mirror.root / tree).is_dir():
            shutil.copytree(mirror.root / tree, upstream / tree, symlinks=False, copy_function=_link_or_copy)
    _writable_dirs(upstream)
    shutil.copy2(mirror.root / "remotes.yaml", upstream / "remotes.yaml")
    local = Mirror(upstream, mirror.entries)
    copied = dest / "overlays"
    shutil.copytree(overlays, copied, symlinks=False, ignore=shutil.ignore_patterns(".stackgen*"))
    for root, label in ((upstream, mirror.root), (copied, overlays)):
        for kustomization in _kustomizations(root):
            _rewrite(local, kustomization, label / kustomization.relative_to(root))
    return Workspace(dest, copied, upstream)


def _kustomizations(root: Path) -> t.Iterator[Path]:
    for directory, _, names in os.walk(root):
        for name in names:
            if name in KUSTOMIZATION_NAMES:
                yield Path(directory) / name


def _rewrite(mirror: Mirror, kustomization: Path, shown_as: Path) -> None:
    text = kustomization.read_text("utf-8")
    if "://" not in text and "git@" not in text:
        return
    body = yaml.safe_load(text) or {}
    references = [r for key in ("resources", "components", "bases") for r in (body.get(key) or []) if isinstance(r, str)]
    for reference in references:
        if not _REMOTE.match(reference):
            continue
        target = resolve(mirror, reference)
        if target is None:
            raise MirrorError(f"{shown_as}: remote base {reference} has no entry in the mirror ({mirror.root.name}/remotes.yaml)")
        relative = os.path.relpath(target, kustomization.parent)
        text = re.sub(rf"(?m)^(\s*-\s*['\"]?){re.escape(reference)}(['\"]?\s*(#.*)?)$", lambda m: m.group(1) + relative + m.group(2), text)
    replacement = kustomization.with_name(kustomization.name + ".stackgen-tmp")
    replacement.write_text(text, "utf-8")
    os.replace(replacement, kustomization)  # a new inode: the mirror's file stays untouched
