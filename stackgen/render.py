"""render: overlays + upstream mirror -> one rendered resource set per cluster.

Kustomize's cost follows the volume of resources, so the win is never to build the same thing
twice: each distinct unit (and each cluster's own/ folder) is built once, keyed by a content hash
of everything it reads plus the kustomize version and the mirror, cached on disk; a cluster's
render is then the union of its units' renders, since the cluster level adds no transformer.
A unit that fails to build fails the clusters that use it, and only those.
"""

from __future__ import annotations

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

Resource = dict[str, t.Any]
OWN = "own"
# kustomize's legacy order (api/resid/gvk.go), which `kustomize build` prints by default.
_ORDER_FIRST = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount", "PodSecurityPolicy",
    "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
    "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet",
    "CronJob", "PodDisruptionBudget",
)
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


@dataclass(frozen=True)
class Piece:
    """A directory built on its own: a unit, or a cluster's own/ folder."""

    name: str  # "units/<unit>" or "clusters/<cluster>/own"
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


def clusters_in(overlays: Path) -> list[str]:
    root = overlays / "clusters"
    # A foreign folder or link in overlays/clusters/ is no cluster: never rendered, never entered.
    found = root.iterdir() if root.is_dir() and not root.is_symlink() else iter(())
    return sorted(p.name for p in found if not p.is_symlink() and p.is_dir() and _regular(p / "kustomization.yaml"))


def _regular(path: Path) -> bool:
    return not path.is_symlink() and path.is_file()


def pieces_of(overlays: Path, cluster: str) -> list[str]:
    """The pieces a cluster's kustomization aggregates, in its order."""
    body = yamlio.load((overlays / "clusters" / cluster / "kustomization.yaml").read_text("utf-8")) or {}
    pieces = []
    for reference in body.get("resources", []):
        target = (overlays / "clusters" / cluster / reference).resolve()
        pieces.append(target.relative_to(overlays.resolve()).as_posix())
    return pieces


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
    """Cheap identity of the mirror: paths, sizes and mtimes (content edits change mtimes)."""
    digest = hashlib.sha256()
    for tree in (*mirrors.MIRRORED_TREES, "remotes.yaml"):
        target = root / tree
        found = _regular_files(target) if target.is_dir() and not target.is_symlink() else ()
        if target.is_file() and not target.is_symlink():
            found = iter([(target, os.lstat(target))])
        for path, status in found:
            digest.update(f"{path.relative_to(root)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def piece_key(overlays: Path, piece: str, salt: str) -> str:
    digest = hashlib.sha256(salt.encode())
    directory = overlays / piece
    _digest_dir(directory, digest)
    body = yamlio.load((directory / "kustomization.yaml").read_text("utf-8")) or {}
    for component in body.get("components", []) or []:
        digest.update(component.encode())
        _digest_dir(Path(os.path.normpath(directory / component)), digest)
    return digest.hexdigest()


def render(
    overlays: Path,
    mirror_root: Path,
    kustomize: kz.Kustomize,
    clusters: t.Sequence[str] | None = None,
    jobs: int = 0,
    cache: Path | None = None,
    progress: t.Callable[[str], None] | None = None,
    pristine: bool = False,
) -> RenderResult:
    mirror = mirrors.open_mirror(mirror_root)
    names = list(clusters) if clusters else clusters_in(overlays)
    salt = f"{kustomize.version}\0{mirror_fingerprint(mirror_root)}"
    layout = {name: pieces_of(overlays, name) for name in names}
    pieces = {p: Piece(p, piece_key(overlays, p, salt)) for ps in layout.values() for p in ps}
    # A thin unit over a shared one (its own files plus `../<unit>`) is the union of the two:
    # the shared unit is built once for every cluster, the thin one's files on their own.
    thin = {p: bases for p in pieces if (bases := thin_bases(overlays, p)) is not None}
    # A unit of one cluster's values over a shared one (`../<unit>`, patches to named objects
    # of it, files of its own): the shared unit is built once for every cluster, and only the
    # objects the patches name go through kustomize again, with the patches (issue 19).
    over = {p: found for p in pieces if p not in thin and (found := overlay_of(overlays, p)) is not None}
    bases_needed = [b for bases in thin.values() for b in bases] + [o.base for o in over.values()]
    pieces.update({b: Piece(b, piece_key(overlays, b, salt)) for b in bases_needed if b not in pieces})
    wanted = {p: piece for p, piece in pieces.items() if p not in thin and p not in over}
    wanted.update({f"{p}#local": Piece(f"{p}#local", pieces[p].key + ":local") for p in thin})
    wanted.update({f"{p}#overlay": Piece(f"{p}#overlay", f"{pieces[p].key}:{pieces[o.base].key}:overlay") for p, o in over.items()})
    modified = [p for p in pieces if pristine and p.startswith("units/") and p not in thin and p not in over
                and _modifies_upstream(overlays / p)]
    wanted.update({f"{p}#pristine": Piece(f"{p}#pristine", pieces[p].key + ":pristine") for p in modified})
    # A cluster is ready when every piece built for it is: a thin or overlay unit's own piece and its base.
    needs = {p: {f"{p}#local", *thin[p]} if p in thin else {f"{p}#overlay", over[p].base} if p in over else {p}
             for ps in layout.values() for p in ps}
    waiting = {name: {n for p in ps for n in needs[p]} for name, ps in layout.items()}
    waiting = {name: pieces_ | {f"{n}#pristine" for n in pieces_ if n in modified} for name, pieces_ in waiting.items()}
    tracker = _ClusterProgress(waiting, progress) if progress else None
    outputs, errors, built = _build_all(overlays, mirror, kustomize, wanted, jobs or os.cpu_count() or 1, cache, tracker, over)
    for p, found in over.items():
        if found.base in errors or f"{p}#overlay" in errors:
            errors[p] = "\n".join(f"{b}: {errors[b]}" for b in (found.base, f"{p}#overlay") if b in errors)
        else:
            outputs[p] = _spliced(outputs[found.base], outputs[f"{p}#overlay"], found.patches)
    for p, bases in thin.items():
        failed = [f"{b}: {errors[b]}" for b in bases if b in errors] + ([errors[f"{p}#local"]] if f"{p}#local" in errors else [])
        if failed:
            errors[p] = "\n".join(failed)
        else:
            outputs[p] = [r for b in bases for r in outputs[b]] + outputs[f"{p}#local"]
    renders = []
    for name in names:
        failed = [f"{p}: {errors[p]}" for p in layout[name] if p in errors]
        overlay = f"clusters/{name}"
        if failed:
            renders.append(ClusterRender(name, overlay, error="\n".join(failed)))
            continue
        pairs = [(resource, piece) for piece in layout[name] for resource in outputs[piece]]
        pairs.sort(key=lambda pair: legacy_sort_key(pair[0]))
        renders.append(ClusterRender(name, overlay, tuple(r for r, _ in pairs), tuple(p for _, p in pairs),
                                     key=_cluster_key(name, layout[name], pieces, {**thin, **{p: [o.base] for p, o in over.items()}})))
    # A unit that only lists upstream paths is upstream, unchanged: its pristine render is itself.
    original = {p: tuple(outputs.get(f"{p}#pristine", outputs.get(p, ()))) for p in pieces if pristine and p.startswith("units/") and p not in thin}
    original.update({p: tuple(r for b in bases for r in original.get(b, ())) for p, bases in thin.items() if pristine})
    original.update({p: original.get(found.base, ()) for p, found in over.items() if pristine})
    return RenderResult(tuple(renders), kustomize.version, built, len(wanted) - built - len([e for e in errors if e in wanted]), original)


def _cluster_key(name: str, layout: t.Sequence[str], pieces: t.Mapping[str, Piece], thin: t.Mapping[str, t.Sequence[str]]) -> str:
    """The pieces' keys in order; `thin` maps a piece to the units it is built over."""
    # A thin unit's own key covers its folder only: the units it wraps are part of its render.
    digest = hashlib.sha256(f"cluster\0{name}\0".encode())
    for piece in layout:
        for part in (piece, *thin.get(piece, ())):
            digest.update(f"{part}={pieces[part].key}\n".encode())
    return digest.hexdigest()


def thin_bases(overlays: Path, piece: str) -> list[str] | None:
    """The units a thin unit adds its own files to, or None where `piece` is not one.

    Thin: a kustomization with only `resources`, each a sibling unit (`../<unit>`) or a file of
    its own, so its build is exactly the union of theirs (no transformer reaches across).
    """
    if not piece.startswith("units/"):
        return None
    body = yamlio.load((overlays / piece / "kustomization.yaml").read_text("utf-8")) or {}
    resources = body.get("resources") or []
    if set(body) - {"apiVersion", "kind", "resources"} or not all(isinstance(r, str) for r in resources):
        return None
    bases = [f"units/{r[3:]}" for r in resources if r.startswith("../") and "/" not in r[3:]]
    files = [r for r in resources if "/" not in r and r.endswith((".yaml", ".yml"))]
    if not bases or len(bases) + len(files) != len(resources):
        return None
    return bases


@dataclass(frozen=True)
class Overlay:
    """A unit that patches named objects of one shared unit and adds files of its own."""

    base: str  # "units/<unit>"
    files: tuple[str, ...]
    patches: tuple[t.Mapping[str, t.Any], ...]


def overlay_of(overlays: Path, piece: str) -> Overlay | None:
    """The shape compile gives a cluster's values over a shared unit, or None for any other.

    Its build equals the shared unit's with the patched objects replaced and its files added,
    as long as every patch is inline and names one object (kind and name); anything else is
    built whole by kustomize.
    """
    if not piece.startswith("units/"):
        return None
    body = yamlio.load((overlays / piece / "kustomization.yaml").read_text("utf-8")) or {}
    resources, patches = body.get("resources") or [], body.get("patches") or []
    if set(body) - {"apiVersion", "kind", "resources", "patches"} or not patches or not isinstance(resources, list):
        return None
    bases = [r for r in resources if isinstance(r, str) and r.startswith("../") and "/" not in r[3:]]
    files = [r for r in resources if isinstance(r, str) and "/" not in r and r.endswith((".yaml", ".yml"))]
    if len(bases) != 1 or len(bases) + len(files) != len(resources) or not isinstance(patches, list):
        return None
    for patch in patches:
        target = patch.get("target") if isinstance(patch, dict) else None
        if (set(patch) != {"target", "patch"} or not isinstance(patch["patch"], str) or not isinstance(target, dict)
                or not {"kind", "name"} <= set(target) or set(target) - {"group", "version", "kind", "name", "namespace"}):
            return None
    return Overlay(f"units/{bases[0][3:]}", tuple(files), tuple(patches))


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


def _modifies_upstream(unit: Path) -> bool:
    body = yamlio.load((unit / "kustomization.yaml").read_text("utf-8")) or {}
    return bool(set(body) - {"apiVersion", "kind", "resources"})


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
    pieces: t.Mapping[str, Piece],
    jobs: int,
    cache: Path | None,
    progress: _ClusterProgress | None,
    over: t.Mapping[str, Overlay] | None = None,
) -> tuple[dict[str, list[Resource]], dict[str, str], int]:
    """Build what the cache lacks; an overlay's piece (`<unit>#overlay`) after its base, whose
    render supplies the objects it patches."""
    first = {name: piece for name, piece in pieces.items() if not name.endswith("#overlay")}
    outputs, errors, built = _build_pieces(overlays, mirror, kustomize, first, jobs, cache, progress)
    later = {name: piece for name, piece in pieces.items() if name.endswith("#overlay")}
    if later and over:
        for name in [n for n in later if over[n.removesuffix("#overlay")].base in errors]:
            errors[name] = "its shared unit failed to build"
            del later[name]
        more, more_errors, more_built = _build_pieces(overlays, mirror, kustomize, later, jobs, cache, progress, over, outputs)
        outputs.update(more)
        errors.update(more_errors)
        built += more_built
    return outputs, errors, built


def _build_pieces(
    overlays: Path,
    mirror: mirrors.Mirror,
    kustomize: kz.Kustomize,
    pieces: t.Mapping[str, Piece],
    jobs: int,
    cache: Path | None,
    progress: _ClusterProgress | None,
    over: t.Mapping[str, Overlay] | None = None,
    base_outputs: t.Mapping[str, list[Resource]] | None = None,
) -> tuple[dict[str, list[Resource]], dict[str, str], int]:
    outputs: dict[str, list[Resource]] = {}
    missing = []
    for name, piece in pieces.items():
        cached = _cache_read(cache, piece.key)
        if cached is None:
            missing.append(piece)
        else:
            outputs[name] = cached
            if progress:
                progress.cached(name)
    errors: dict[str, str] = {}
    if not missing:
        return outputs, errors, 0
    with tempfile.TemporaryDirectory(prefix="stackgen-render-") as temporary:
        # Only the files the lock lists: foreign files in overlays/ are never read or copied.
        locked = writer.owned(overlays)
        workspace = mirrors.materialize(mirror, overlays, Path(temporary), set(locked) if locked is not None else None)
        for piece in missing:
            if piece.name.endswith("#pristine"):
                _write_pristine(workspace.overlays, piece.name.removesuffix("#pristine"))
            if piece.name.endswith("#local"):
                _write_local(workspace.overlays, piece.name.removesuffix("#local"))
            if piece.name.endswith("#overlay") and over is not None and base_outputs is not None:
                unit = piece.name.removesuffix("#overlay")
                _write_overlay(workspace.overlays, unit, over[unit], base_outputs[over[unit].base])

        def build(piece: Piece) -> tuple[Piece, str | None, str | None]:
            directory = workspace.overlays / piece.name.replace("#pristine", ".pristine").replace("#local", ".local").replace("#overlay", ".overlay")
            try:
                return piece, kz.build(kustomize, directory), None
            except kz.KustomizeError as error:
                return piece, None, error.stderr.strip()

        # Longest first: the biggest unit (KServe's CRDs) must not start last on a busy pool.
        sizes: dict[Path, int] = {}  # this run's: the mirror may change between runs of one process
        missing.sort(key=lambda piece: -_weight(mirror.root, overlays / piece.name.split("#")[0], sizes))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done, (piece, text, error) in enumerate(pool.map(build, missing), start=1):
                if progress:
                    progress.built(piece.name, done, len(missing))
                if error is not None:
                    errors[piece.name] = error
                    continue
                assert text is not None
                outputs[piece.name] = [doc for doc in yamlio.load_all(text) if doc]
                _cache_write(cache, piece.key, outputs[piece.name])
    return outputs, errors, len(missing) - len(errors)


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


def _weight(mirror_root: Path, piece: Path, sizes: dict[Path, int]) -> int:
    """Rough build cost of a piece: bytes of the upstream application folders it pulls in."""
    body = yamlio.load((piece / "kustomization.yaml").read_text("utf-8")) or {}
    total = 0
    for reference in body.get("resources", []) or []:
        if "//" in reference:
            application = reference.split("//", 2)[-1].split("?")[0].split("/")[:2]
            folder = mirror_root / "kubeflow-manifests" / "/".join(application)
            if folder not in sizes:
                sizes[folder] = _tree_size(folder)
            total += sizes[folder]
    return total


def _tree_size(root: Path) -> int:
    return sum(status.st_size for _, status in _regular_files(root))


def _write_pristine(overlays: Path, unit: str) -> None:
    """The unit's upstream paths alone, without stackgen's layers, patches or namespace.

    It sits beside the unit at the same depth, so the unit's (rewritten) relative paths hold.
    """
    body = yamlio.load((overlays / unit / "kustomization.yaml").read_text("utf-8"))
    target = overlays / (unit + ".pristine")
    target.mkdir(parents=True, exist_ok=True)
    # Upstream only: files of the unit's own (a bare name, no path) are stackgen's, not upstream's.
    upstream = [r for r in body.get("resources", []) if "/" in r]
    (target / "kustomization.yaml").write_text(yaml.safe_dump({"resources": upstream}))


def _write_local(overlays: Path, unit: str) -> None:
    """A thin unit's own files alone, copied beside it (kustomize loads no file above its root)."""
    body = yaml.safe_load((overlays / unit / "kustomization.yaml").read_text("utf-8"))
    files = [r for r in body.get("resources", []) if not r.startswith("../")]
    target = overlays / (unit + ".local")
    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        (target / name).write_bytes((overlays / unit / name).read_bytes())
    (target / "kustomization.yaml").write_text(yaml.safe_dump({"resources": files}))



def _write_overlay(overlays: Path, unit: str, overlay: Overlay, base: t.Sequence[Resource]) -> None:
    """The objects of the shared unit that the overlay's patches name, with those patches and
    the overlay's own files: a build of a few objects, not of the whole component again."""
    target = overlays / (unit + ".overlay")
    target.mkdir(parents=True, exist_ok=True)
    for name in overlay.files:
        (target / name).write_bytes((overlays / unit / name).read_bytes())
    # Deletions are the splice's (`_spliced`): kustomize, given the rendered objects, would no
    # longer know a generated object by the name upstream declares it under.
    patches = [p for p in overlay.patches if not _deletes(p)]
    named = [r for r in base if _targeted(r, patches)]
    (target / "targets.yaml").write_text(yaml.safe_dump_all(named, sort_keys=True) if named else "")
    body = {"resources": (["targets.yaml"] if named else []) + list(overlay.files), "patches": [dict(p) for p in patches]}
    (target / "kustomization.yaml").write_text(yaml.safe_dump(body, sort_keys=False))


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
