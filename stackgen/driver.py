r"""The one place that lists the stages and their order.

    load -> validate -> model -> place -> compile -> write
                                             \-> render (kustomize) -> verify -> golden / diff

Each stage runs only when the ones before it found no error, so no stage ever sees input an
earlier stage rejected; diagnostics from every stage that ran are returned together.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
import typing as t
from dataclasses import dataclass
from pathlib import Path

from stackgen import firstsync, releases
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import render as render_
from stackgen import vendor as vendor_
from stackgen import verify as verify_
from stackgen import write as writer
from stackgen.compile import FileTree, compile_stack
from stackgen.diagnostics import Diagnostic, has_errors, locate
from stackgen.load import Loaded, load_file
from stackgen.model import Stack, build_model
from stackgen.place import Placement, place
from stackgen.validate import validate


@dataclass(frozen=True)
class Checked:
    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]
    stack: Stack | None = None
    placement: Placement | None = None

    @property
    def ok(self) -> bool:
        return self.stack is not None and self.placement is not None and not has_errors(self.diagnostics)


def check_stack(path: Path, display: str | None = None) -> Checked:
    loaded = load_file(str(path), display)
    if not loaded.ok:
        return Checked(loaded, loaded.diagnostics)
    # Schema and cross-reference errors first: the model assumes a valid tree.
    diagnostics = validate(loaded)
    if has_errors(diagnostics):
        return Checked(loaded, tuple(diagnostics))
    stack = build_model(loaded.tree)
    # Placement can still refuse (an edge cluster asked to run a mesh): located at the culprit.
    placement = place(stack)
    diagnostics += locate(placement.findings, loaded.file, loaded.source)
    return Checked(loaded, tuple(sorted(diagnostics)), stack, placement)


def compile_checked(checked: Checked) -> FileTree:
    assert checked.stack is not None and checked.placement is not None
    return compile_stack(checked.stack, checked.placement)


def output_tree(checked: Checked, choice: releases.MirrorChoice | None = None, env: t.Mapping[str, str] | None = None) -> FileTree:
    """What `build` writes: the compiled tree, and with `upstream.mode: vendored` the upstream its
    units use, read from each release's mirror (UpstreamMissing where there is none)."""
    files = compile_checked(checked)
    assert checked.stack is not None
    if checked.stack.upstream.mode == "vendored":
        for release, paths in sorted(vendor_.used_paths(files).items()):
            root = upstream_dir(releases.explicit_for(choice or releases.MirrorChoice(), release), release, env)
            files.update(vendor_.vendored_files(root, release, paths))
    return files


def default_output(stack_file: Path, stack: Stack) -> Path:
    """Beside stack.yaml, at `spec.gitops.path` (where the engine objects say it is)."""
    return stack_file.parent / stack.gitops.path


def build(files: FileTree, out: Path, check_only: bool) -> writer.Changes:
    return writer.check(out, files) if check_only else writer.write(out, files)


# --- render -> verify -> golden / diff ---------------------------------------------------
#
# Render works on the overlays as written (what Argo CD / Flux will build), so they must be
# fresh first; verify then judges each cluster's render against its own Kubernetes version.


@dataclass(frozen=True)
class Rendered:
    result: render_.RenderResult
    problems: tuple[verify_.Problem, ...]
    golden: t.Mapping[str, t.Mapping[str, bytes]]  # cluster -> golden files

    @property
    def failed(self) -> bool:
        return any(c.error for c in self.result.clusters) or any(p.severity == "error" for p in self.problems)

    @property
    def held_back(self) -> list[str]:
        """Clusters that failed to render or verify: their goldens are kept as they were."""
        return sorted(c.cluster for c in self.result.clusters if c.cluster not in self.golden)


class UnknownCluster(Exception):
    """`--cluster` named a cluster the stack does not declare."""


class UpstreamMissing(Exception):
    """No upstream mirror: the CLI exits 2 and says how to vendor one."""


def upstream_dir(explicit: Path | None, pin: str, env: t.Mapping[str, str] | None = None) -> Path:
    environment = os.environ if env is None else env
    candidates = [explicit] if explicit else []
    if environment.get("STACKGEN_UPSTREAM"):
        candidates.append(Path(environment["STACKGEN_UPSTREAM"]))
    candidates.append(vendor_.cache_dir(pin, environment))
    for candidate in candidates:
        if candidate and releases.serves(candidate, pin):
            return candidate
    tried = ", ".join(str(c) + _holds(c) for c in candidates if c)
    raise UpstreamMissing(
        f"no upstream mirror for kubeflow/manifests {pin} (tried {tried}); "
        "run `stackgen vendor --from DIR` once, or pass --upstream DIR (--upstream TAG=DIR per release) / set $STACKGEN_UPSTREAM"
    )


def _holds(candidate: Path) -> str:
    held = releases.held_release(candidate) if (candidate / "remotes.yaml").is_file() else None
    return f" (holds {held})" if held else ""


def render_checked(
    checked: Checked, overlays: Path, mirror_root: Path, kustomize: kz.Kustomize, clusters: t.Sequence[str],
    jobs: int, full: bool, progress: t.Callable[[str], None] | None = None, run_verify: bool = True,
) -> Rendered:
    assert checked.stack is not None
    versions = {c.name: c.kubernetes_version for c in checked.stack.clusters}
    unknown = [c for c in clusters if c not in versions]
    if unknown:
        raise UnknownCluster(f"no cluster named {', '.join(unknown)} in the stack")
    # The stack's clusters, never whatever folders overlays/clusters/ holds (a foreign one is input).
    wanted = list(clusters) or sorted(c.name for c in checked.stack.clusters)
    result = render_.render(overlays, mirror_root, kustomize, wanted, jobs, render_.cache_root(), progress, pristine=True)
    declared = verify_.declared_vars(mirror_root) if run_verify else frozenset()
    problems: list[verify_.Problem] = []
    engine = compile_checked(checked) if run_verify else {}
    clouds = {c.name: c.cloud for c in checked.stack.clusters}
    for cluster in result.clusters:
        if run_verify and not cluster.error:
            problems += verify_.verify(cluster, versions[cluster.cluster], mirror_root / "crds", declared, checked.stack.registry_mirror)
            # Schema-valid is not enough: the engine's apply order must let every step turn healthy.
            problems += firstsync.verify_cluster(cluster, engine, checked.stack.gitops.path, clouds[cluster.cluster])
    if run_verify:
        problems += verify_.verify_engine_objects(engine, mirror_root / "crds")
    # A cluster that failed to render or verify keeps the goldens it has: golden/ records what
    # was reviewed as working, and one cluster's failure never holds back another's goldens.
    failed = {p.cluster for p in problems if p.severity == "error"}
    golden = {
        cluster.cluster: golden_.golden_files(cluster, result.pristine, releases.release_of(checked.stack.upstream.kubeflow,
                                              checked.stack.cluster(cluster.cluster)), result.kustomize_version, full)
        for cluster in result.clusters if not cluster.error and cluster.cluster not in failed
    }
    return Rendered(result, tuple(problems), golden)


def golden_changes(golden_root: Path, rendered: Rendered, clusters: t.Sequence[str], check_only: bool) -> writer.Changes:
    """Write (or with check_only, compare) golden/ as one tree under one lock, so a crash leaves
    every cluster's goldens old or every one new, and a cluster gone from the stack loses its folder.

    `clusters` is every cluster of the stack: those not rendered this time (`--cluster`, or a
    failed render) keep the goldens they have.
    """
    files = {f"{cluster}/{path}": content for cluster, content_by_path in rendered.golden.items()
             for path, content in content_by_path.items()}
    kept = [c for c in clusters if c not in rendered.golden]
    for path in sorted(writer.owned(golden_root, adopt=clusters) or {}):
        source = golden_root / path
        if path.split("/", 1)[0] in kept and source.name != writer.LOCK_NAME and source.is_file() and not source.is_symlink():
            files[path] = read_plain(source)
    if check_only:
        for cluster in rendered.golden:
            index = f"{cluster}/index.yaml"
            if index in files:
                files[index] = golden_.same_but_for_the_tool(files[index], _read_owned(golden_root / index))
        return writer.check(golden_root, files, adopt=clusters)
    return writer.write(golden_root, files, adopt=clusters)


def _read_owned(path: Path) -> bytes | None:
    if path.is_symlink() or not path.is_file():
        return None
    return read_plain(path)


def golden_clusters(golden_root: Path) -> list[str]:
    """The clusters golden/ holds a folder for."""
    if not golden_root.is_dir():
        return []
    return sorted(p.name for p in golden_root.iterdir() if p.is_dir() and not p.is_symlink() and p.name not in writer.RESERVED)


def read_golden(golden_root: Path, cluster: str) -> dict[str, bytes]:
    """A cluster's golden files. Goldens come from pull requests: a link is refused, never
    followed (a link to a kubeconfig would print its token in the diff), and so is a special or
    oversized file; folders are walked without following links."""
    root = golden_root / cluster
    if root.is_symlink():
        raise golden_.GoldenError(f"{root}: is a symbolic link; goldens are plain files and folders, never followed")
    if not root.is_dir():
        return {}
    files: dict[str, bytes] = {}
    for directory, subdirs, names in os.walk(root):
        for name in sorted(subdirs + names):
            path = Path(directory) / name
            if path.is_symlink():
                raise golden_.GoldenError(f"{path}: is a symbolic link; goldens are plain files and folders, never followed")
        for name in sorted(names):
            if not name.startswith(".stackgen"):
                files[(Path(directory) / name).relative_to(root).as_posix()] = read_plain(Path(directory) / name)
    return files


def read_plain(path: Path, limit: int = golden_.MAX_GOLDEN_BYTES) -> bytes:
    """A regular file's bytes, opened without following a link and read only up to `limit`."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise golden_.GoldenError(f"{path}: cannot be read ({error.strerror or error})") from None
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise golden_.GoldenError(f"{path}: is not a regular file; goldens are plain files")
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise golden_.GoldenError(f"{path}: larger than {limit // (1024 * 1024)} MiB; not a golden stackgen writes")
    return content


def _old_mirror(pin: str, choice: releases.MirrorChoice, env: t.Mapping[str, str] | None) -> Path | None:
    if not vendor_.valid_pin(pin):
        return None
    explicit = choice.tagged.get(pin)  # an untagged --upstream is the current pin's mirror
    for candidate in ([explicit] if explicit else []) + [vendor_.cache_dir(pin, env)]:
        if releases.serves(candidate, pin):
            return candidate
    return None


def old_pins(checked: Checked, golden_root: Path, rendered: Rendered, kustomize: kz.Kustomize, jobs: int,
             env: t.Mapping[str, str] | None = None, choice: releases.MirrorChoice | None = None) -> dict[str, golden_.OldPin]:
    """For clusters whose golden was made with another upstream pin: that pin rendered from its
    mirror (`--upstream TAG=DIR`, else the vendored cache; the same stack, compiled against the
    old pin), or None where there is none."""
    assert checked.stack is not None and checked.placement is not None
    by_pin: dict[str, list[str]] = {}
    for cluster in sorted(rendered.golden):
        current = releases.release_of(checked.stack.upstream.kubeflow, checked.stack.cluster(cluster))
        pin = golden_.golden_pin(read_golden(golden_root, cluster), f"{golden_root / cluster / 'index.yaml'}")
        if pin is not None and pin != current:
            by_pin.setdefault(pin, []).append(cluster)
    found: dict[str, golden_.OldPin] = {}
    for pin, clusters in sorted(by_pin.items()):
        # The pin comes from a golden index, which is input: a pin that is no release tag is simply not vendored.
        mirror_root = _old_mirror(pin, choice or releases.MirrorChoice(), env)
        if mirror_root is None:
            found.update({cluster: golden_.OldPin(pin, None) for cluster in clusters})
            continue
        # Every cluster at the old pin (a wave's own release too): the workspace maps one mirror.
        stack = dataclasses.replace(checked.stack, upstream=dataclasses.replace(checked.stack.upstream, kubeflow=pin),
                                    clusters=tuple(dataclasses.replace(c, release=None) for c in checked.stack.clusters))
        with tempfile.TemporaryDirectory(prefix="stackgen-old-pin-") as scratch:
            overlays = Path(scratch)
            compiled = compile_stack(stack, place(stack))
            if stack.upstream.mode == "vendored":
                compiled.update(vendor_.vendored_files(mirror_root, pin, vendor_.used_paths(compiled).get(pin, ())))
            for path, content in compiled.items():
                (overlays / path).parent.mkdir(parents=True, exist_ok=True)
                (overlays / path).write_bytes(content)
            result = render_.render(overlays, mirror_root, kustomize, clusters, jobs, render_.cache_root(env))
        for old in result.clusters:
            resources = None if old.error else {golden_.resource_key(r): r for r in old.resources}
            found[old.cluster] = golden_.OldPin(pin, resources)
    return found
