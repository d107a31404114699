"""render: overlays + upstream mirror -> one rendered resource set per cluster.

Kustomize's cost follows the volume of resources, so the win is never to build the same thing
twice: each distinct unit (and each cluster's own/ folder) is built once, keyed by a content hash
of everything it reads plus the kustomize version and the mirror, cached on disk; a cluster's
render is then the union of its units' renders, since the cluster level adds no transformer.
A unit that fails to build fails the clusters that use it, and only those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import stat
import tempfile
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stackgen import cachefile, yamlio
from stackgen import kustomize as kz
from stackgen import mirror as mirrors
from stackgen import write as writer
from stackgen.layout import Layout, Piece, Resource

# kustomize's legacy order (api/resid/gvk.go), which `kustomize build` prints by default.
_ORDER_FIRST = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount", "PodSecurityPolicy",
    "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
    "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet",
    "CronJob", "PodDisruptionBudget",
)
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


@dataclass(frozen=True)
class Build:
    """One kustomize build: a piece, or a part of one (`#local`, `#overlay`, `#pristine`)."""

    name: str  # "units/<unit>", "clusters/<cluster>/own", or either with a `#part`
    key: str  # content hash of all it reads


@dataclass(frozen=True)
class ClusterRender:
    cluster: str
    overlay: str  # the cluster's overlay path, for messages
    resources: tuple[Resource, ...] = ()
    origins: tuple[str, ...] = ()  # per resource: the piece it came from
    error: str | None = None
    # Content hash of everything the render was made from (its pieces' keys, in order, which
    # cover the kustomize version and the mirror): what verify and golden key their results
    # by, so an unchanged cluster costs a lookup. Empty where unknown: nothing is cached.
    key: str = ""


@dataclass(frozen=True)
class RenderResult:
    clusters: tuple[ClusterRender, ...]
    kustomize_version: str
    built: int  # pieces built by kustomize in this run
    cached: int  # pieces served from the cache
    pristine: t.Mapping[str, tuple[Resource, ...]] = field(default_factory=dict)


def cache_root(env: t.Mapping[str, str] | None = None) -> Path:
    environment = os.environ if env is None else env
    base = environment.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackgen" / "render"


def _regular_files(directory: Path) -> t.Iterator[tuple[Path, os.stat_result]]:
    """Every regular file under `directory`, sorted, found without following a link (a link to
    `/` or a loop in overlays/ or the mirror is never entered); links and special files are
    left out, as `materialize` leaves them out of the workspace."""
    for root, subdirs, names in os.walk(directory):
        subdirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            status = os.lstat(path)
            if stat.S_ISREG(status.st_mode):
                yield path, status


def _digest_dir(directory: Path, into: t.Any) -> None:
    for path, _ in _regular_files(directory):
        into.update(path.relative_to(directory).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:  # streamed: memory stays flat whatever the file's size
            while chunk := handle.read(1 << 20):
                into.update(chunk)
        into.update(b"\0")


def mirror_fingerprint(root: Path) -> str:
    """Cheap identity of the mirror, without reading its 40 MB on every render: each file's path,
    size and mtime. Not the ctime: render hard-links the mirror's files into its workspace, which
    moves their ctime on every run and would miss the cache every time."""
    digest = hashlib.sha256()
    for tree in (*mirrors.MIRRORED_TREES, "remotes.yaml"):
        target = root / tree
        found = _regular_files(target) if target.is_dir() and not target.is_symlink() else ()
        if target.is_file() and not target.is_symlink():
            found = iter([(target, os.lstat(target))])
        for path, status in found:
            digest.update(f"{path.relative_to(root)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def piece_key(overlays: Path, piece: Piece, salt: str) -> str:
    """What a piece's build reads: its folder and its layers' folders, as they are on disk."""
    digest = hashlib.sha256(salt.encode())
    directory = overlays / piece.path
    _digest_dir(directory, digest)
    for component in piece.components:
        digest.update(component.encode())
        _digest_dir(Path(os.path.normpath(directory / component)), digest)
    return digest.hexdigest()


def render(
    overlays: Path,
    mirror_root: Path,
    kustomize: kz.Kustomize,
    layout: Layout,
    clusters: t.Sequence[str] | None = None,
    jobs: int = 0,
    cache: Path | None = None,
    progress: t.Callable[[str], None] | None = None,
    pristine: bool = False,
) -> RenderResult:
    """Render `clusters` (default: every cluster of `layout`) from the overlays as written, built
    piece by piece as compile laid them out.

    `layout` must describe `overlays` (the driver checks that they are what compile produces
    before it renders): the structure comes from the layout, the content from the files.
    """
    mirror = mirrors.open_mirror(mirror_root)
    names = list(clusters) if clusters else sorted(layout.clusters)
    salt = f"{kustomize.version}\0{mirror_fingerprint(mirror_root)}"
    used = {path: layout.pieces[path] for name in names for path in layout.clusters[name]}
    used.update({piece.base: layout.pieces[piece.base] for piece in list(used.values()) if piece.base})
    keys = {path: piece_key(overlays, piece, salt) for path, piece in used.items()}
    builds = _builds(used, keys, salt, pristine)
    # A cluster is ready when every build it needs is: a per-cluster unit's own part and its base.
    waiting = {name: {b for path in layout.clusters[name] for b in _needs(used[path], builds)} for name in names}
    tracker = _ClusterProgress(waiting, progress) if progress else None
    outputs, errors, built = _build_all(overlays, mirror, kustomize, builds, jobs or os.cpu_count() or 1, cache, tracker, used)
    for path, piece in used.items():
        if piece.base is not None:
            _assemble(path, piece, outputs, errors)
    renders = []
    for name in names:
        failed = [f"{p}: {errors[p]}" for p in layout.clusters[name] if p in errors]
        overlay = f"clusters/{name}"
        if failed:
            renders.append(ClusterRender(name, overlay, error="\n".join(failed)))
            continue
        pairs = [(resource, path) for path in layout.clusters[name] for resource in outputs[path]]
        pairs.sort(key=lambda pair: legacy_sort_key(pair[0]))
        renders.append(ClusterRender(name, overlay, tuple(r for r, _ in pairs), tuple(p for _, p in pairs),
                                     key=_cluster_key(name, layout.clusters[name], keys, used)))
    original = _pristine_renders(used, outputs) if pristine else {}
    return RenderResult(tuple(renders), kustomize.version, built, len(builds) - built - len([e for e in errors if e in builds]), original)


def _builds(used: t.Mapping[str, Piece], keys: t.Mapping[str, str], salt: str, pristine: bool) -> dict[str, Build]:
    """What kustomize builds: a piece whole, or for a per-cluster unit over a shared one only its
    own part (`#local`: its files; `#overlay`: the objects it patches, with its files); and, for
    the upgrade plan and goldens, upstream's own render of a unit that changes it (`#pristine`);
    a unit that only patches named objects of upstream is derived from that (`#derived`)."""
    builds = {}
    for path, piece in used.items():
        if piece.base is None and piece.named_patches is not None:
            # Upstream's own render, then the named objects again (`_derive`): the upstream
            # build is shared by every unit over the same folders, and by the goldens.
            upstream = _pristine_key(piece, salt)
            builds[f"{path}#pristine"] = Build(f"{path}#pristine", upstream)
            builds[f"{path}#derived"] = Build(f"{path}#derived", f"{keys[path]}:{upstream}:derived")
            continue
        if piece.base is None:
            builds[path] = Build(path, keys[path])
        elif piece.patches:
            builds[f"{path}#overlay"] = Build(f"{path}#overlay", f"{keys[path]}:{keys[piece.base]}:overlay")
        else:
            builds[f"{path}#local"] = Build(f"{path}#local", keys[path] + ":local")
        if pristine and piece.base is None and piece.modifies_upstream:
            builds[f"{path}#pristine"] = Build(f"{path}#pristine", _pristine_key(piece, salt))
    return builds


def _pristine_key(piece: Piece, salt: str) -> str:
    # Upstream's own render reads only the folders listed (from the mirror the salt names), so
    # units over the same folders (istio-aws, istio-gcp, istio-azure) share one build.
    return hashlib.sha256("\0".join(("pristine", salt, *piece.upstream)).encode()).hexdigest()


def _needs(piece: Piece, builds: t.Mapping[str, Build]) -> set[str]:
    parts = {piece.path} if piece.base is None else {piece.base, f"{piece.path}#overlay" if piece.patches else f"{piece.path}#local"}
    parts |= {f"{part}#pristine" for part in parts if f"{part}#pristine" in builds}
    return {f"{part}#derived" if f"{part}#derived" in builds else part for part in parts}


def _assemble(path: str, piece: Piece, outputs: dict[str, list[Resource]], errors: dict[str, str]) -> None:
    """A per-cluster unit's render from its shared unit's and its own part's."""
    assert piece.base is not None
    own = f"{path}#overlay" if piece.patches else f"{path}#local"
    failed = [f"{part}: {errors[part]}" for part in (piece.base, own) if part in errors]
    if failed:
        errors[path] = "\n".join(failed)
    elif piece.patches:
        outputs[path] = _spliced(outputs[piece.base], outputs[own], piece.patches)
    else:
        outputs[path] = outputs[piece.base] + outputs[own]


def _pristine_renders(used: t.Mapping[str, Piece], outputs: t.Mapping[str, list[Resource]]) -> dict[str, tuple[Resource, ...]]:
    # A unit that only lists upstream paths is upstream, unchanged: its pristine render is itself.
    # A per-cluster unit's upstream is its shared unit's.
    original = {path: tuple(outputs.get(f"{path}#pristine", outputs.get(path, ())))
                for path, piece in used.items() if path.startswith("units/") and piece.base is None}
    original.update({path: original.get(piece.base, ()) for path, piece in used.items() if piece.base is not None})
    return original


def _cluster_key(name: str, paths: t.Sequence[str], keys: t.Mapping[str, str], used: t.Mapping[str, Piece]) -> str:
    """The pieces' keys in order, each followed by its base's: what the cluster's render is made of."""
    digest = hashlib.sha256(f"cluster\0{name}\0".encode())
    for path in paths:
        base = used[path].base
        for part in (path, base) if base else (path,):
            digest.update(f"{part}={keys[part]}\n".encode())
    return digest.hexdigest()


def _targeted(resource: Resource, patches: t.Sequence[t.Mapping[str, t.Any]], generated: bool = False) -> bool:
    """Whether a patch names the resource. With `generated`, a ConfigMap or Secret a generator
    named `<name>-<hash>` counts as `<name>`, as kustomize matches a target by the original name."""
    metadata = resource.get("metadata") or {}
    group, _, version = str(resource.get("apiVersion", "")).rpartition("/")
    name = str(metadata.get("name"))
    for patch in patches:
        target = patch["target"]
        named = target["name"] == name or (generated and resource.get("kind") in ("ConfigMap", "Secret")
                                           and _GENERATED.fullmatch(name) is not None and name[:-11] == target["name"])
        if (target["kind"] == resource.get("kind") and named
                and target.get("namespace", metadata.get("namespace")) == metadata.get("namespace")
                and target.get("group", group) == group and target.get("version", version) == version):
            return True
    return False


# kustomize's generator suffix: `-` and ten characters of its hash alphabet.
_GENERATED = re.compile(r".+-[a-z0-9]{10}")


def _deletes(patch: t.Mapping[str, t.Any]) -> bool:
    """A patch that deletes the object it names (`$patch: delete`): applied by the splice, not kustomize."""
    body = yamlio.load(str(patch.get("patch", ""))) if "$patch" in str(patch.get("patch", "")) else None
    return isinstance(body, dict) and body.get("$patch") == "delete"


def _resource_id(resource: Resource) -> tuple[str, str, str, str]:
    metadata = resource.get("metadata") or {}
    return str(resource.get("apiVersion")), str(resource.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name"))


def _spliced(base: t.Sequence[Resource], built: t.Sequence[Resource], patches: t.Sequence[t.Mapping[str, t.Any]] = ()) -> list[Resource]:
    """The shared unit's render with the patched objects in place of theirs, then the overlay's own.

    An object a patch names that the overlay's build no longer holds was deleted (`$patch:
    delete`, an external database replacing the in-cluster one): it leaves the render too.
    """
    patched = {_resource_id(r): r for r in built}
    ids = {_resource_id(r) for r in base}
    deletions = [p for p in patches if _deletes(p)]
    kept = [r for r in base if not _targeted(r, deletions, generated=True)]
    return [patched.get(_resource_id(r), r) for r in kept] + [r for r in built if _resource_id(r) not in ids]


def legacy_sort_key(resource: Resource) -> tuple[int, str, str, str]:
    kind = resource.get("kind", "")
    if kind in _ORDER_FIRST:
        rank = _ORDER_FIRST.index(kind)
    elif kind in _ORDER_LAST:
        rank = len(_ORDER_FIRST) + 1 + _ORDER_LAST.index(kind)
    else:
        rank = len(_ORDER_FIRST)
    metadata = resource.get("metadata", {})
    return rank, f"{resource.get('apiVersion', '')}|{kind}", metadata.get("namespace", ""), metadata.get("name", "")


def _build_all(
    overlays: Path,
    mirror: mirrors.Mirror,
    kustomize: kz.Kustomize,
    builds: t.Mapping[str, Build],
    jobs: int,
    cache: Path | None,
    progress: _ClusterProgress | None,
    used: t.Mapping[str, Piece],
) -> tuple[dict[str, list[Resource]], dict[str, str], int]:
    """Build what the cache lacks; an overlay part (`<unit>#overlay`) after its base, whose
    render supplies the objects it patches."""
    outputs: dict[str, list[Resource]] = {}
    errors: dict[str, str] = {}
    built = 0
    with _LazyWorkspace(overlays, mirror) as workspace:
        for phase in _phases(builds, used, errors):
            more, more_errors, more_built = _build_pieces(workspace, kustomize, phase, jobs, cache, progress, used, outputs)
            outputs.update(more)
            errors.update(more_errors)
            built += more_built
            for name in [n for n in phase if n.endswith("#derived")]:
                path = name.removesuffix("#derived")
                if name in errors:
                    errors[path] = errors[name]
                else:
                    outputs[path] = outputs[name]
    return outputs, errors, built


def _phases(builds: t.Mapping[str, Build], used: t.Mapping[str, Piece], errors: dict[str, str]) -> t.Iterator[dict[str, Build]]:
    """Upstream first; then the units derived from it; then the per-cluster objects over those.
    A build whose source failed is not run: its error says so (read as each phase comes)."""
    for part, needed, failed in (("", None, ""), ("#derived", "#pristine", "its upstream failed to build"),
                                 ("#overlay", None, "its shared unit failed to build")):
        phase = {name: build for name, build in builds.items()
                 if (name.endswith(part) if part else not name.endswith(("#derived", "#overlay")))}
        for name in list(phase):
            path = name.partition("#")[0]
            source = path + needed if needed else used[path].base if part == "#overlay" else None
            if source is not None and source in errors:
                errors[name] = failed
                del phase[name]
        if phase:
            yield phase


class _LazyWorkspace:
    """The overlays and the mirror copied into one temporary folder, made the first time a
    build needs it (a warm render makes none) and removed at the end of the render."""

    def __init__(self, overlays: Path, mirror: mirrors.Mirror):
        self.overlays = overlays
        self.mirror = mirror
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._workspace: mirrors.Workspace | None = None

    def get(self) -> mirrors.Workspace:
        if self._workspace is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="stackgen-render-")
            # Only the files the lock lists: foreign files in overlays/ are never read or copied.
            locked = writer.owned(self.overlays)
            self._workspace = mirrors.materialize(self.mirror, self.overlays, Path(self._temporary.name),
                                                  set(locked) if locked is not None else None)
        return self._workspace

    def __enter__(self) -> _LazyWorkspace:
        return self

    def __exit__(self, *_: object) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()


def _build_pieces(
    lazy: _LazyWorkspace,
    kustomize: kz.Kustomize,
    builds: t.Mapping[str, Build],
    jobs: int,
    cache: Path | None,
    progress: _ClusterProgress | None,
    used: t.Mapping[str, Piece],
    base_outputs: t.Mapping[str, list[Resource]],
) -> tuple[dict[str, list[Resource]], dict[str, str], int]:
    outputs: dict[str, list[Resource]] = {}
    missing = []
    for name, build in builds.items():
        cached = _cache_read(cache, build.key)
        if cached is None:
            missing.append(build)
        else:
            outputs[name] = cached
            if progress:
                progress.cached(name)
    errors: dict[str, str] = {}
    if not missing:
        return outputs, errors, 0
    workspace, overlays, mirror = lazy.get(), lazy.overlays, lazy.mirror
    whole: set[str] = set()  # derived units built whole after all (`_write_derived` says why)
    for build in missing:
        path, _, part = build.name.partition("#")
        piece = used[path]
        if part == "pristine":
            _write_pristine(workspace, mirror, piece)
        elif part == "local":
            _write_local(workspace.overlays, piece)
        elif part == "overlay":
            assert piece.base is not None
            _write_overlay(workspace.overlays, piece, base_outputs[piece.base])
        elif part == "derived" and not _write_derived(overlays, workspace.overlays, piece, base_outputs[f"{path}#pristine"]):
            whole.add(build.name)

    # Builds of equal keys read the same bytes: one kustomize run answers them all.
    twins: dict[str, list[Build]] = {}
    for build in missing:
        twins.setdefault(build.key, []).append(build)
    unique = [same[0] for same in twins.values()]

    def run(build: Build) -> tuple[Build, str | None, str | None]:
        path, _, part = build.name.partition("#")
        folder = path if not part or build.name in whole else f"{path}.{part}"
        try:
            return build, kz.build(kustomize, workspace.overlays / folder), None
        except kz.KustomizeError as error:
            return build, None, error.stderr.strip()

    # Longest first: the biggest unit (KServe's CRDs) must not start last on a busy pool.
    sizes: dict[Path, int] = {}  # this run's: the mirror may change between runs of one process
    unique.sort(key=lambda build: -_weight(mirror.root, used[build.name.partition("#")[0]], sizes))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for done, (build, text, error) in enumerate(pool.map(run, unique), start=1):
            if progress:
                for twin in twins[build.key]:
                    progress.built(twin.name, done, len(unique))
            if error is not None:
                errors.update({twin.name: error for twin in twins[build.key]})
                continue
            assert text is not None
            resources = [doc for doc in yamlio.load_all(text) if doc]
            if build.name.endswith("#derived") and build.name not in whole:
                path = build.name.removesuffix("#derived")
                derived = _derived(base_outputs[f"{path}#pristine"], resources, used[path])
                if derived is None:  # a patch renamed what it names, which only a whole build answers
                    _, text, error = run(dataclasses.replace(build, name=path))
                    if error is not None:
                        errors.update({twin.name: error for twin in twins[build.key]})
                        continue
                    derived = [doc for doc in yamlio.load_all(text or "") if doc]
                resources = derived
            outputs.update({twin.name: resources for twin in twins[build.key]})
            _cache_write(cache, build.key, resources)
    return outputs, errors, sum(1 for build in missing if build.name not in errors)


class _ClusterProgress:
    """Turns finished pieces into the line a person watches: how many clusters are ready."""

    def __init__(self, layout: t.Mapping[str, t.Collection[str]], show: t.Callable[[str], None]):
        self.waiting = {cluster: set(pieces) for cluster, pieces in layout.items()}
        self.show = show

    def cached(self, piece: str) -> None:
        self._show(self._finish(piece), f"{piece} cached")

    def built(self, piece: str, done: int, of: int) -> None:
        self._show(self._finish(piece), f"kustomize build {done}/{of} ({piece})")

    def _show(self, ready: list[str], what: str) -> None:
        ready_count = sum(not waiting for waiting in self.waiting.values())
        line = f"rendering: {ready_count}/{len(self.waiting)} clusters ready, {what}"
        self.show(line + (f": {', '.join(ready)} ready" if ready else ""))

    def _finish(self, piece: str) -> list[str]:
        ready = []
        for cluster, waiting in self.waiting.items():
            if piece in waiting:
                waiting.discard(piece)
                if not waiting:
                    ready.append(cluster)
        return ready


def _weight(mirror_root: Path, piece: Piece, sizes: dict[Path, int]) -> int:
    """Rough build cost of a piece: bytes of the upstream application folders it pulls in."""
    total = 0
    for path in piece.upstream_paths:
        folder = mirror_root / "kubeflow-manifests" / "/".join(path.split("/")[:2])
        if folder not in sizes:
            sizes[folder] = _tree_size(folder)
        total += sizes[folder]
    return total


def _tree_size(root: Path) -> int:
    return sum(status.st_size for _, status in _regular_files(root))


def _write_pristine(workspace: mirrors.Workspace, mirror: mirrors.Mirror, piece: Piece) -> None:
    """The unit's upstream paths alone, without stackgen's layers, patches or namespace.

    It sits beside the unit at the same depth, so the unit's relative references hold.
    """
    mirrors.add_kustomization(workspace, mirror, workspace.overlays / (piece.path + ".pristine"), {"resources": list(piece.upstream)})


def _write_local(overlays: Path, piece: Piece) -> None:
    """A per-cluster unit's own files alone, copied beside it (kustomize loads no file above its root)."""
    target = overlays / (piece.path + ".local")
    target.mkdir(parents=True, exist_ok=True)
    for name in piece.files:
        (target / name).write_bytes((overlays / piece.path / name).read_bytes())
    (target / "kustomization.yaml").write_text(yaml.safe_dump({"resources": list(piece.files)}))


def _write_overlay(overlays: Path, piece: Piece, base: t.Sequence[Resource]) -> None:
    """The objects of the shared unit that the piece's patches name, with those patches and the
    piece's own files: a build of a few objects, not of the whole component again."""
    target = overlays / (piece.path + ".overlay")
    target.mkdir(parents=True, exist_ok=True)
    for name in piece.files:
        (target / name).write_bytes((overlays / piece.path / name).read_bytes())
    # Deletions are the splice's (`_spliced`): kustomize, given the rendered objects, would no
    # longer know a generated object by the name upstream declares it under.
    patches = [p for p in piece.patches if not _deletes(p)]
    named = [r for r in base if _targeted(r, patches)]
    (target / "targets.yaml").write_text(_documents(named))
    body = {"resources": (["targets.yaml"] if named else []) + list(piece.files), "patches": [dict(p) for p in patches]}
    (target / "kustomization.yaml").write_text(yaml.safe_dump(body, sort_keys=False))


def _write_derived(written: Path, overlays: Path, piece: Piece, upstream: t.Sequence[Resource]) -> bool:
    """The objects of upstream's render that the unit's patches name, under the unit's own
    kustomization (its layers and patches, as compile wrote them), beside the unit so its
    relative paths hold. False where a whole build is the only exact answer: a patch that
    names nothing by its current name (kustomize also matches the name a generator or a prefix
    started from), one that mentions a generated object (kustomize renames references to it at
    the unit's level, after the patch), or one that deletes a generated object (references to
    it go back to the name it was generated under)."""
    assert piece.named_patches is not None
    patches = [p for p in piece.named_patches if not _deletes(p)]
    generated = [r for r in upstream if r.get("kind") in ("ConfigMap", "Secret") and _GENERATED.fullmatch(str((r.get("metadata") or {}).get("name")))]
    if any(not any(_targeted(r, [p]) for r in upstream) for p in patches):
        return False
    # Deleting a generated object leaves its references at the name it was generated under.
    deletions = [p for p in piece.named_patches if _deletes(p)]
    if any(_targeted(r, deletions, generated=True) for r in generated):
        return False
    texts = [str(p["patch"]) for p in patches]
    names = [str(r["metadata"]["name"])[:-11] for r in generated]
    if any(re.search(rf"(?<![A-Za-z0-9.-]){re.escape(name)}(?![A-Za-z0-9.-])", text) for name in names for text in texts):
        return False
    body = _as_laid_out(written, piece)  # as written: the workspace's copy has its remote bases mapped
    if body is None:
        return False
    target = overlays / (piece.path + ".derived")
    target.mkdir(parents=True, exist_ok=True)
    for name in piece.files:
        (target / name).write_bytes((overlays / piece.path / name).read_bytes())
    named = [r for r in upstream if _targeted(r, patches)]
    (target / "targets.yaml").write_text(_documents(named))
    body["resources"] = ["targets.yaml", *piece.files]
    body["patches"] = [p for p in body.get("patches", []) if not _deletes(p)]
    if not body["patches"]:
        del body["patches"]
    (target / "kustomization.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return True


def _as_laid_out(overlays: Path, piece: Piece) -> dict[str, t.Any] | None:
    """The unit's kustomization, if it and its layers' say what the layout does (which folders,
    which patches on which objects): the derivation trusts the layout's targets. The files are
    what kustomize reads, so any other kustomization is built whole."""
    assert piece.named_patches is not None
    try:
        body = yamlio.load((overlays / piece.path / "kustomization.yaml").read_bytes())
        layers = [yamlio.load((overlays / piece.path / component / "kustomization.yaml").read_bytes())
                  for component in piece.components]
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(body, dict) or not all(isinstance(layer, dict) for layer in layers):
        return None
    own = body.get("patches", [])
    if not isinstance(own, list) or not all(isinstance(layer.get("patches", []), list) for layer in layers):
        return None
    patches = [patch for layer in layers for patch in layer.get("patches", [])] + own
    if (set(body) - {"apiVersion", "kind", "resources", "components", "patches"}
            or body.get("resources") != [*piece.upstream, *piece.files] or body.get("components", []) != list(piece.components)
            or not all(isinstance(patch, dict) for patch in patches)
            or [patch.get("target") for patch in patches] != [patch["target"] for patch in piece.named_patches]
            or own != [dict(patch) for patch in piece.named_patches[len(patches) - len(own):]]):
        return None
    return body


def _derived(upstream: t.Sequence[Resource], built: t.Sequence[Resource], piece: Piece) -> list[Resource] | None:
    """The unit's render: upstream's, with the objects built again in place of theirs and the
    unit's own files after; None if the build no longer holds an object it was given."""
    assert piece.named_patches is not None
    patches = [p for p in piece.named_patches if not _deletes(p)]
    given = {_resource_id(r) for r in upstream if _targeted(r, patches)}
    if not given <= {_resource_id(r) for r in built}:
        return None
    return _spliced(upstream, built, piece.named_patches)


def _documents(resources: t.Sequence[Resource]) -> str:
    """`yaml.safe_dump_all(resources, sort_keys=True)`, by the fast emitter: a derived unit's
    targets can be megabytes of CRDs."""
    return "".join(("---\n" if position else "") + yamlio.GOLDENS.dump(r) for position, r in enumerate(resources))


def _cache_read(cache: Path | None, key: str) -> list[Resource] | None:
    if cache is None:
        return None
    path = cache / key[:2] / f"{key}.json"
    try:
        loaded: list[Resource] = json.loads(path.read_text("utf-8"))
        return loaded
    except (OSError, ValueError):
        return None


def _cache_write(cache: Path | None, key: str, resources: list[Resource]) -> None:
    if cache is not None:
        cachefile.write_entry(cache / key[:2] / f"{key}.json", json.dumps(resources, sort_keys=True, separators=(",", ":"), default=str))
