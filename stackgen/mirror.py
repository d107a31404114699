"""Map remote kustomize bases onto a local mirror of the pinned upstream, for offline renders.

Overlays reference upstream as pinned remote URLs, and upstream pulls remote bases of its own
(Argo Workflows, LWS, JobSet). `materialize` copies the mirror and the overlays into a work
directory and rewrites each URL found in a kustomization into a relative path to its mirrored
copy, following the mirror's `remotes.yaml`. The mirror and the overlays are never changed.

A mirror (vendored, cached, or named with --upstream) is a download from elsewhere, so it is
read as input: a link or special file in it is refused, never followed; every path a
kustomization names (resources, patches, generators, openapi, configurations, ...) must be a
relative path that stays in the workspace, or a remote base the mirror maps; anything else
(an `HTTP://` resource, a URL in `patches`, a `file://` repository, an absolute path) is
refused before kustomize runs, because kustomize would fetch or read it.
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

from stackgen.errors import MirrorError as MirrorError

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MIRRORED_TREES = ("kubeflow-manifests", "remote")
# What kustomize would fetch rather than read from the workspace: any scheme (case-insensitive:
# kustomize takes `HTTP://`), git's scp-like and getter forms, and bare forge hosts.
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*://|git@|git::|gh:|(?:github\.com|gitlab\.com|bitbucket\.org)/)", re.I)
# Fields whose strings (or whose items' `path`) kustomize loads as files, folders or URLs.
_PATH_LISTS = ("resources", "components", "bases", "crds", "configurations", "generators", "transformers", "validators",
               "patchesStrategicMerge")
REWRITTEN = ("resources", "components", "bases")
_PATH_ITEMS = ("patches", "patchesJson6902", "replacements")
_GENERATORS = ("configMapGenerator", "secretGenerator")


def is_remote(reference: str) -> bool:
    """Whether kustomize would fetch `reference` rather than read it from the workspace."""
    return _REMOTE.match(reference) is not None


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
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as error:
        raise MirrorError(f"{index}: unreadable remote map ({str(error)[:200]})") from None
    for entry in entries:
        parts = Path(entry.path).parts
        if Path(entry.path).is_absolute() or ".." in parts or not parts:
            raise MirrorError(f"{index}: `path: {entry.path}` leaves the mirror; a remote's path is relative, inside it")
    plain_tree(root / "crds")  # verify reads the CRDs straight from the mirror, not from a workspace copy
    return Mirror(root, entries)


KUBEFLOW_MANIFESTS_URL = "https://github.com/kubeflow/manifests"


def kubeflow_ref(mirror: Mirror) -> str | None:
    """The kubeflow/manifests release the mirror holds (its remote map's ref), or None when it maps none."""
    refs = {e.ref for e in mirror.entries if e.url.rstrip("/") == KUBEFLOW_MANIFESTS_URL}
    return refs.pop() if len(refs) == 1 else None


def plain_tree(folder: Path) -> None:
    """Refuse a link or special file anywhere under `folder` (walked without following links)."""
    if folder.is_symlink():
        _foreign(folder, "refuse")
    for directory, subdirs, names in os.walk(folder):
        for name in subdirs + names:
            path = Path(directory) / name
            if path.is_symlink() or not (path.is_dir() or stat.S_ISREG(os.lstat(path).st_mode)):
                _foreign(path, "refuse")


def inside(root: Path, target: Path) -> bool:
    return os.path.normpath(target) == os.path.normpath(root) or os.path.normpath(target).startswith(os.path.normpath(root) + os.sep)


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
        target = mirror.root / entry.path / rest if rest else mirror.root / entry.path
        return target if inside(mirror.root, target) else None  # `//../../x` in a URL stays in the mirror
    return None


def _link_or_copy(source: str, target: str) -> None:
    # Hard links make the ~40 MB mirror free to "copy"; files that get rewritten are replaced
    # by new files (see _rewrite), never written through the shared inode.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _copy_tree(source: Path, target: Path, links: t.Literal["refuse", "skip"], keep: t.Callable[[str], bool] = lambda _: True) -> None:
    """Copy the regular files under `source` (hard links where possible), never following a
    link: a link or special file is refused (the mirror) or skipped (the overlays' foreign
    files: a link to `/` or to a 20 GB sparse file, a loop, a FIFO)."""
    for directory, subdirs, names in os.walk(source):
        here = Path(directory)
        rel = here.relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        os.chmod(target / rel, os.stat(target / rel).st_mode | stat.S_IWUSR)
        for name in sorted(subdirs):
            if (here / name).is_symlink():
                _foreign(here / name, links)
        subdirs[:] = [d for d in subdirs if not (here / d).is_symlink()]
        for name in sorted(names):
            path = here / name
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                _foreign(path, links)
            elif keep((rel / name).as_posix()):
                _link_or_copy(str(path), str(target / rel / name))


def _foreign(path: Path, links: str) -> None:
    if links == "refuse":
        raise MirrorError(f"{path}: is a link or special file; an upstream mirror is read as plain files only")


def materialize(mirror: Mirror, overlays: Path, dest: Path, owned: t.Collection[str] | None = None) -> Workspace:
    """The work directory kustomize runs in. `owned`: the overlay files to copy (what the lock
    lists); without it, every regular file but stackgen's bookkeeping."""
    upstream = dest / "upstream"
    for tree in MIRRORED_TREES:
        source = mirror.root / tree
        if source.is_symlink():
            _foreign(source, "refuse")
        if source.is_dir():
            _copy_tree(source, upstream / tree, "refuse")
    if (mirror.root / "remotes.yaml").is_symlink():
        _foreign(mirror.root / "remotes.yaml", "refuse")
    shutil.copy2(mirror.root / "remotes.yaml", upstream / "remotes.yaml")
    local = Mirror(upstream, mirror.entries)
    copied = dest / "overlays"
    wanted = set(owned) if owned is not None else None
    _copy_tree(overlays, copied, "skip",
               lambda rel: (wanted is None or rel in wanted) and not rel.split("/", 1)[0].startswith(".stackgen"))
    # The overlays' files are what the compiler wrote (render checks that first), and its YAML
    # may share a repeated node by alias; the mirror's come from elsewhere.
    for root, label, trusted in ((upstream, mirror.root, False), (copied, overlays, True)):
        for kustomization in _kustomizations(root):
            _rewrite(local, kustomization, label / kustomization.relative_to(root), dest, aliases=trusted)
    return Workspace(dest, copied, upstream)


def add_kustomization(workspace: Workspace, mirror: Mirror, folder: Path, body: t.Mapping[str, t.Any]) -> None:
    """A kustomization stackgen writes into the workspace after `materialize` (a unit's pristine
    upstream beside it), its remote bases mapped onto the workspace's mirror as the overlays' are."""
    folder.mkdir(parents=True, exist_ok=True)
    kustomization = folder / "kustomization.yaml"
    kustomization.write_text(yaml.safe_dump(dict(body), sort_keys=False), "utf-8")
    _rewrite(Mirror(workspace.upstream, mirror.entries), kustomization, kustomization.relative_to(workspace.root), workspace.root, aliases=True)


def _kustomizations(root: Path) -> t.Iterator[Path]:
    for directory, _, names in os.walk(root):
        for name in names:
            if name in KUSTOMIZATION_NAMES:
                yield Path(directory) / name


def references(body: t.Mapping[str, t.Any]) -> t.Iterator[tuple[str, str]]:
    """(field, value) of every path or URL a kustomization makes kustomize load."""
    for field in _PATH_LISTS:
        items = body.get(field)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str) and "\n" not in item:  # a multi-line string is an inline patch or config
                yield field, item
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                yield field, item["path"]
    for field in _PATH_ITEMS:
        items = body.get(field)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield field, item["path"]
    openapi = body.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]
    for field in _GENERATORS:
        generators = body.get(field)
        for generator in generators if isinstance(generators, list) else []:
            if not isinstance(generator, dict):
                continue
            for key in ("files", "envs"):
                for entry in generator.get(key) or [] if isinstance(generator.get(key), list) else []:
                    if isinstance(entry, str):
                        yield field, entry.split("=", 1)[-1]
            if isinstance(generator.get("env"), str):
                yield field, generator["env"]


def _rewrite(mirror: Mirror, kustomization: Path, shown_as: Path, workspace: Path, aliases: bool = False) -> None:
    text = kustomization.read_text("utf-8")
    try:
        # Aliases first: expanded, a few lines of them take all memory (a billion laughs).
        if not aliases and any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=LOADER)):
            raise MirrorError(f"{shown_as}: YAML aliases are not allowed in a kustomization stackgen renders")
        body = yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        # Unchecked, kustomize's own YAML reader might still find a URL in it and fetch it.
        raise MirrorError(f"{shown_as}: not valid YAML; stackgen checks every path a kustomization names before kustomize runs") from None
    if body is None:
        return
    if not isinstance(body, dict):
        raise MirrorError(f"{shown_as}: not a kustomization (a mapping)")
    changed = False
    for field in REWRITTEN:
        items = body.get(field)
        if not isinstance(items, list):
            continue
        for index, reference in enumerate(items):
            if not isinstance(reference, str) or not _REMOTE.match(reference):
                continue
            target = resolve(mirror, reference.strip())
            if target is None:
                raise MirrorError(f"{shown_as}: remote base {reference} has no entry in the mirror ({mirror.root.name}/remotes.yaml); "
                                  "stackgen renders offline and never fetches it")
            items[index] = os.path.relpath(target, kustomization.parent)
            changed = True
    for field, reference in references(body):
        if _REMOTE.match(reference):
            raise MirrorError(f"{shown_as}: `{field}` names {reference[:200]}, which kustomize would fetch; "
                              "stackgen renders offline: only the remote bases of resources, components and bases are mapped")
        if os.path.isabs(reference) or not inside(workspace, kustomization.parent / reference):
            raise MirrorError(f"{shown_as}: `{field}` names {reference[:200]}, outside the overlays and the mirror; not read")
    if changed:
        replacement = kustomization.with_name(kustomization.name + ".stackgen-tmp")
        replacement.write_text(yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=4096), "utf-8")
        os.replace(replacement, kustomization)  # a new inode: the mirror's file stays untouched


LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def combine(primary: Path, others: t.Mapping[str, Path], dest: Path) -> Path:
    """One mirror at `dest` for a fleet on several releases: `primary` as it is, and each other
    release's kubeflow-manifests tree under `remote/kubeflow-manifests@<release>/`, mapped for
    `?ref=<release>`, with the remote bases `primary` lacks. Hard links: nothing is copied."""
    base = open_mirror(primary)
    entries = list(base.entries)
    trees = [(primary / name, dest / name) for name in (*MIRRORED_TREES, "crds")]
    for release, root in sorted(others.items()):
        other = open_mirror(root)
        folder = f"remote/kubeflow-manifests@{release}"
        trees.append((root / MIRRORED_TREES[0], dest / folder))
        for entry in other.entries:
            if entry.url.rstrip("/") == KUBEFLOW_MANIFESTS_URL:
                entries.append(RemoteEntry(entry.url, entry.ref, folder + "/"))
            elif not any(e.url == entry.url and e.ref == entry.ref for e in entries):
                entries.append(entry)
                trees.append((root / entry.path, dest / entry.path))
    for source, target in trees:
        if source.is_symlink():
            _foreign(source, "refuse")
        if source.is_dir():
            _copy_tree(source, target, "refuse")
    body = [{"url": e.url, "ref": e.ref, "path": e.path} for e in entries]
    (dest / "remotes.yaml").write_text(yaml.safe_dump(body, sort_keys=False), "utf-8")
    # Its time is its sources': the render cache keys on the mirror's mtimes, and this file is new each run.
    stamp = max(os.stat(r / "remotes.yaml").st_mtime_ns for r in (primary, *others.values()))
    os.utime(dest / "remotes.yaml", ns=(stamp, stamp))
    return dest
