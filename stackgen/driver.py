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

from stackgen import buildcache, releases
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import vendor as vendor_
from stackgen import write as writer
from stackgen.diagnostics import Diagnostic, has_errors, locate
from stackgen.errors import (
    EXIT_INVALID,
    EXIT_OK,
    Invalid,
    MirrorError,
    OutputError,
    StackgenError,
    StaleOverlays,
    UnknownCluster,
    UpstreamMissing,
)
from stackgen.load import Loaded, load_bytes, load_file, read_source

# The stages are imported where they run, so `validate`, and every stack refused before
# compile, never pays for compile, render, verify, the first-sync model or explain, and a build
# answered from its record (buildcache) pays for no stage at all.
if t.TYPE_CHECKING:
    from stackgen import plan as plan_
    from stackgen import render as render_
    from stackgen import scaffold
    from stackgen import verify as verify_
    from stackgen.compile import images as images_
    from stackgen.compile.overlays import Compiled, FileTree
    from stackgen.model import Cloud, Stack
    from stackgen.place import Placement


@dataclass(frozen=True)
class Checked:
    """A stack every stage up to place accepted (warnings at most), with its model and placement."""

    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]
    stack: Stack
    placement: Placement

    ok: t.ClassVar[bool] = True


@dataclass(frozen=True)
class Rejected:
    """A stack some stage refused: the diagnostics say why; nothing later ran."""

    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]

    ok: t.ClassVar[bool] = False


def check_stack(path: Path, display: str | None = None) -> Checked | Rejected:
    return check_loaded(load_file(str(path), display))


def check_loaded(loaded: Loaded) -> Checked | Rejected:
    if not loaded.ok:
        return Rejected(loaded, loaded.diagnostics)
    # Schema and reference errors first: the model assumes a valid tree.
    # Imported here, not at the top: a build answered from its record (buildcache) needs none of them.
    from stackgen.model import build_model
    from stackgen.place import place
    from stackgen.validate import validate

    diagnostics = validate(loaded)
    if has_errors(diagnostics):
        return Rejected(loaded, tuple(diagnostics))
    stack = build_model(loaded.tree)
    # Placement decides where everything lands, and refuses what cannot (a job where nothing
    # trains, an edge cluster asked to run a mesh): located at the culprit.
    placement = place(stack)
    diagnostics = sorted(diagnostics + locate(placement.findings, loaded.file, loaded.source))
    if has_errors(diagnostics):
        return Rejected(loaded, tuple(diagnostics))
    return Checked(loaded, tuple(diagnostics), stack, placement)


def compile_checked(checked: Checked, sink: t.Callable[[str, bytes], None] | None = None) -> Compiled:
    from stackgen.compile.overlays import compile_stack
    return compile_stack(checked.stack, checked.placement, sink)


def output_tree(checked: Checked, choice: releases.MirrorChoice | None = None, env: t.Mapping[str, str] | None = None,
                sink: t.Callable[[str, bytes], None] | None = None) -> Compiled:
    """What `build` writes: the compiled tree, and with `upstream.mode: vendored` the upstream its
    units use, read from each release's mirror (SG704, at `upstream.mode`, where there is none).
    `sink` is handed each compiled file as it is made."""
    compiled = compile_checked(checked, sink)
    if checked.stack.upstream.mode != "vendored":
        return compiled
    files = compiled.files
    try:
        for release, paths in sorted(vendor_.used_paths(files).items()):
            root = upstream_dir(releases.explicit_for(choice or releases.MirrorChoice(), release), release, env)
            files.update(vendor_.vendored_files(root, release, paths))
    except (UpstreamMissing, MirrorError) as error:
        # Vendored mode copies upstream into the output: located at the key that asks for it.
        where = checked.loaded.source.value_at(("spec", "upstream", "mode"))
        raise UpstreamMissing(f"upstream.mode vendored needs the upstream mirror at build time: {error.message}",
                              f"{checked.loaded.file}:{where.line}:{where.column}") from None
    return compiled


def default_output(stack_file: Path, stack: Stack) -> Path:
    """Beside stack.yaml, at `spec.gitops.path` (where the engine objects say it is)."""
    return stack_file.parent / stack.gitops.path


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
    checked: Checked, compiled: Compiled, overlays: Path, mirror_root: Path, kustomize: kz.Kustomize, clusters: t.Sequence[str],
    jobs: int, full: bool, progress: t.Callable[[str], None] | None = None, run_verify: bool = True,
) -> Rendered:
    """Render the overlays as written, which are `compiled` (checked fresh by the caller), piece
    by piece as its layout says; then verify each cluster and make its goldens."""
    from stackgen import firstsync
    from stackgen import render as render_
    from stackgen import verify as verify_
    versions = {c.name: c.kubernetes_version for c in checked.stack.clusters}
    unknown = [c for c in clusters if c not in versions]
    if unknown:
        raise UnknownCluster(f"no cluster named {', '.join(unknown)} in the stack")
    # The stack's clusters, never whatever folders overlays/clusters/ holds (a foreign one is input).
    wanted = list(clusters) or sorted(c.name for c in checked.stack.clusters)
    result = render_.render(overlays, mirror_root, kustomize, compiled.layout, wanted, jobs, render_.cache_root(), progress, pristine=True)
    declared = verify_.declared_vars(mirror_root) if run_verify else frozenset()
    problems: list[verify_.Problem] = []
    engine = compiled.files
    # Each cluster's engine objects, found once: scanning the fleet's files per cluster is quadratic.
    engine_of: dict[str, dict[str, bytes]] = {}
    for path, content in engine.items():
        parts = path.split("/", 3)
        if len(parts) >= 3 and parts[0] == "gitops":
            engine_of.setdefault(parts[2], {})[path] = content
    clouds = {c.name: c.cloud for c in checked.stack.clusters}
    provided = {c.name: c.provides for c in checked.stack.clusters}
    seen = verify_.Seen()
    for cluster in result.clusters:
        if run_verify and not cluster.error:
            problems += verify_.verify(cluster, versions[cluster.cluster], mirror_root / "crds", declared, checked.stack.registry_mirror,
                                       provided[cluster.cluster], seen)
            # Schema-valid is not enough: the engine's apply order must let every step turn healthy.
            problems += firstsync.verify_cluster(cluster, engine_of.get(cluster.cluster, {}), checked.stack.gitops.path,
                                                 clouds[cluster.cluster], provided[cluster.cluster])
    if run_verify:
        problems += verify_.verify_engine_objects(engine, mirror_root / "crds", {c.cluster for c in result.clusters})
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
    from stackgen import render as render_
    from stackgen.compile.overlays import compile_stack
    by_pin: dict[str, list[str]] = {}
    for cluster in sorted(rendered.golden):
        current = releases.release_of(checked.stack.upstream.kubeflow, checked.stack.cluster(cluster))
        goldens = read_golden(golden_root, cluster)
        if goldens.get("index.yaml") == rendered.golden[cluster].get("index.yaml"):
            continue  # the index as rendered now, pin included
        pin = golden_.golden_pin(goldens, f"{golden_root / cluster / 'index.yaml'}")
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
            from stackgen.place import place

            compiled = compile_stack(stack, place(stack))
            files = compiled.files
            if stack.upstream.mode == "vendored":
                files.update(vendor_.vendored_files(mirror_root, pin, vendor_.used_paths(files).get(pin, ())))
            for path, content in files.items():
                (overlays / path).parent.mkdir(parents=True, exist_ok=True)
                (overlays / path).write_bytes(content)
            result = render_.render(overlays, mirror_root, kustomize, compiled.layout, clusters, jobs, render_.cache_root(env))
        for old in result.clusters:
            resources = None if old.error else {golden_.resource_key(r): r for r in old.resources}
            found[old.cluster] = golden_.OldPin(pin, resources)
    return found


# --- commands ----------------------------------------------------------------------------
#
# One function per CLI command: it runs the stages the command needs, in order, reports what a
# person should see as it happens (through the `Reporter` the CLI passes in, so the order of
# what is printed is the order things happened), and returns an outcome the CLI prints. Every
# failure is a StackgenError (or Invalid, once the diagnostics are reported) raised from here.


class Reporter(t.Protocol):
    def diagnostics(self, found: t.Sequence[Diagnostic]) -> None:
        """What load, validate and place found, errors or warnings, as soon as they are known."""

    def rendering(self, tool: kz.Kustomize, mirror_root: Path) -> t.Callable[[str], None] | None:
        """Render is about to start; the progress callback for each cluster, if any."""

    def rendered(self, rendered: Rendered, overlays: Path) -> None:
        """Render (and verify, where asked) finished: how each cluster went and what verify found."""


def checked_stack(stack_file: Path, report: Reporter) -> Checked:
    """The stack, checked up to place, its diagnostics reported; Invalid if any is an error."""
    return _reported(check_stack(stack_file, str(stack_file)), report)


def _reported(outcome: Checked | Rejected, report: Reporter) -> Checked:
    report.diagnostics(outcome.diagnostics)
    if isinstance(outcome, Rejected):
        raise Invalid()
    return outcome


@dataclass(frozen=True)
class Built:
    output: Path
    changes: writer.Changes
    check_only: bool

    @property
    def exit_code(self) -> int:
        return EXIT_INVALID if self.check_only and self.changes.stale else EXIT_OK


@dataclass(frozen=True)
class BuildOptions:
    stack_file: Path
    output: Path | None = None  # None: spec.gitops.path beside stack.yaml
    check_only: bool = False
    upstream: releases.MirrorChoice = releases.MirrorChoice()  # vendored mode: the mirror per release to copy from


def build_stack(options: BuildOptions, report: Reporter, env: t.Mapping[str, str] | None = None) -> Built:
    display = str(options.stack_file)
    try:
        source = read_source(display)
    except OSError:
        return _build_checked(options, checked_stack(options.stack_file, report), None, env)  # says why, at 1:1
    # One read: the bytes keyed are the bytes compiled.
    key = buildcache.inputs(options.stack_file, source, display, options.output)
    remembered = buildcache.lookup(key, env)
    if remembered is not None:  # nothing changed since this machine's last build: no compile, no read-back
        report.diagnostics(remembered.diagnostics)
        return Built(remembered.output, writer.Changes((), (), (), remembered.foreign), options.check_only)
    return _build_checked(options, _reported(check_loaded(load_bytes(source, display)), report), key, env)


def _build_checked(options: BuildOptions, checked: Checked, key: buildcache.Inputs | None, env: t.Mapping[str, str] | None) -> Built:
    out = options.output or default_output(options.stack_file, checked.stack)
    if options.check_only:
        files = output_tree(checked, options.upstream).files
        changes = _at(out, lambda: writer.check(out, files))
    else:
        files, changes = _compile_into(out, checked, options.upstream)
    # The tree now holds exactly what was compiled (written, or checked and found so). Vendored
    # output is read from a mirror the key does not cover: never remembered.
    if key and checked.stack.upstream.mode != "vendored" and not (options.check_only and changes.stale):
        buildcache.record(key, out, files, checked.diagnostics, env)
    return Built(out, changes, options.check_only)


def _compile_into(out: Path, checked: Checked, choice: releases.MirrorChoice) -> tuple[FileTree, writer.Changes]:
    """Compile and write, holding the output throughout: into a new output each file is staged
    as compile makes it, on the other core (1,000 clusters are 23,000 files, issue 19)."""
    with _at(out, lambda: writer.Stream.open(out)) as stream:
        files = output_tree(checked, choice, sink=stream.offer).files
        return files, _at(out, lambda: stream.finish(files))


_T = t.TypeVar("_T")


def _at(where: Path, step: t.Callable[[], _T]) -> _T:
    """Run a step that writes or reads under `where`; its error names that folder."""
    try:
        return step()
    except StackgenError as error:
        raise error.at(where) from None


def explain_subject(stack_file: Path, subject: str, report: Reporter) -> str:
    from stackgen import explain as explain_
    checked = checked_stack(stack_file, report)
    return explain_.explain(checked.stack, checked.placement, subject, str(stack_file), checked.loaded.source)


def draw_graph(stack_file: Path, graph_format: t.Literal["dot", "mermaid"], report: Reporter) -> str:
    from stackgen import explain as explain_
    checked = checked_stack(stack_file, report)
    draw = explain_.graph_dot if graph_format == "dot" else explain_.graph_mermaid
    return draw(checked.stack, checked.placement)


def write_starter(output: Path, clouds: t.Sequence[Cloud], engine: scaffold.Engine) -> list[Path]:
    from stackgen import scaffold
    try:
        return scaffold.write(output, clouds, engine)
    except OSError as error:  # what the file system refused, said as the other output errors are
        raise OutputError(f"cannot write {error.filename}: {error.strerror}") from None


@dataclass(frozen=True)
class RenderOptions:
    """What render, diff and images share: the stack, where its overlays and mirror are, how to build."""

    stack_file: Path
    overlays: Path | None = None
    upstream: releases.MirrorChoice = releases.MirrorChoice()  # --upstream: DIR, or TAG=DIR per release
    kustomize: str | None = None
    jobs: int = 0  # 0: as many as there are cores
    clusters: tuple[str, ...] = ()
    golden: Path | None = None  # render and diff: None means golden/ beside stack.yaml

    @property
    def golden_root(self) -> Path:
        return self.golden or self.stack_file.parent / "golden"


@dataclass(frozen=True)
class _Fresh:
    checked: Checked
    overlays: Path
    tool: kz.Kustomize
    rendered: Rendered


def _render_fresh(options: RenderOptions, report: Reporter, full: bool, run_verify: bool) -> _Fresh:
    from stackgen import mirror as mirror_
    checked = checked_stack(options.stack_file, report)
    out = options.overlays or default_output(options.stack_file, checked.stack)
    # Render works on the overlays as written (what the engine builds): they must be fresh.
    compiled = output_tree(checked, options.upstream)
    if _at(out, lambda: writer.check(out, compiled.files)).stale:
        raise StaleOverlays("overlays are stale or missing; run `stackgen build` first", out)
    tool = kz.find_kustomize(options.kustomize)
    stack = checked.stack
    wanted = [c for c in stack.clusters if not options.clusters or c.name in options.clusters]
    pins = sorted({releases.release_of(stack.upstream.kubeflow, c) for c in wanted} or {stack.upstream.kubeflow})
    roots = {pin: upstream_dir(releases.explicit_for(options.upstream, pin), pin) for pin in pins}
    with tempfile.TemporaryDirectory(prefix="stackgen-mirrors-") as scratch:
        # Waves on several releases: one workspace maps each release onto its own mirror.
        primary = stack.upstream.kubeflow if stack.upstream.kubeflow in roots else pins[0]
        mirror_root = roots[primary] if len(roots) == 1 else mirror_.combine(
            roots[primary], {p: r for p, r in roots.items() if p != primary}, Path(scratch))
        progress = report.rendering(tool, mirror_root)
        rendered = render_checked(checked, compiled, out, mirror_root, tool, options.clusters, options.jobs, full, progress, run_verify)
    report.rendered(rendered, out)
    return _Fresh(checked, out, tool, rendered)


@dataclass(frozen=True)
class RenderOutcome:
    rendered: Rendered
    golden_root: Path
    changes: writer.Changes
    stale: tuple[str, ...]  # the clusters whose goldens changed (or `golden/` itself)
    check_only: bool

    @property
    def exit_code(self) -> int:
        return EXIT_INVALID if self.rendered.failed or (self.check_only and self.stale) else EXIT_OK


def render_stack(options: RenderOptions, check_only: bool, full: bool, report: Reporter) -> RenderOutcome:
    fresh = _render_fresh(options, report, full, run_verify=True)
    target = options.golden_root
    names = [c.name for c in fresh.checked.stack.clusters]
    changes = _at(target, lambda: golden_changes(target, fresh.rendered, names, check_only))
    touched = changes.added + changes.changed + changes.removed
    stale = sorted({path.split("/", 1)[0] for path in touched if "/" in path}) or (["golden/"] if changes.stale else [])
    return RenderOutcome(fresh.rendered, target, changes, tuple(stale), check_only)


@dataclass(frozen=True)
class DiffOutcome:
    diffs: tuple[golden_.ClusterDiff, ...]
    failed: bool

    @property
    def exit_code(self) -> int:
        return EXIT_INVALID if self.failed or any(d.changes or d.notes for d in self.diffs) else EXIT_OK


def diff_stack(options: RenderOptions, report: Reporter) -> DiffOutcome:
    fresh = _render_fresh(options, report, full=False, run_verify=False)
    target = options.golden_root
    # Goldens come from pull requests: a bad one is refused (SG708), never followed or quoted.
    diffs = _at(target, lambda: _diffs(fresh, target, options))
    return DiffOutcome(tuple(diffs), fresh.rendered.failed)


def _diffs(fresh: _Fresh, target: Path, options: RenderOptions) -> list[golden_.ClusterDiff]:
    rendered = fresh.rendered
    pins = old_pins(fresh.checked, target, rendered, fresh.tool, options.jobs, choice=options.upstream)
    current = {c.cluster: {golden_.resource_key(r): r for r in c.resources} for c in rendered.result.clusters if not c.error}
    diffs = [golden_.diff_cluster(cluster, read_golden(target, cluster), files, pins.get(cluster), current.get(cluster))
             for cluster, files in sorted(rendered.golden.items())]
    if not options.clusters:  # a cluster gone from the stack: every resource it had is removed
        gone = set(golden_clusters(target)) - {c.name for c in fresh.checked.stack.clusters}
        diffs += [golden_.diff_cluster(cluster, read_golden(target, cluster), {}) for cluster in sorted(gone)]
    return diffs


@dataclass(frozen=True)
class ImagesOutcome:
    listing: t.Mapping[str, t.Sequence[images_.Pulled]]
    failed: bool

    @property
    def exit_code(self) -> int:
        return EXIT_INVALID if self.failed else EXIT_OK


def list_images(options: RenderOptions, report: Reporter) -> ImagesOutcome:
    from stackgen.compile import images as images_
    fresh = _render_fresh(options, report, full=False, run_verify=False)
    mirror = fresh.checked.stack.registry_mirror
    listing = {c.cluster: images_.pulled(c.resources, mirror) for c in fresh.rendered.result.clusters if not c.error}
    return ImagesOutcome(listing, fresh.rendered.failed)


@dataclass(frozen=True)
class PlanOutcome:
    plans: tuple[plan_.ClusterPlan, ...]
    failed: bool

    @property
    def exit_code(self) -> int:
        # Anything for a person to do, or a cluster whose old release could not be rendered (its note says so).
        needs_a_person = any(p.items or p.note.startswith("kubeflow/manifests") for p in self.plans)
        return EXIT_INVALID if self.failed or needs_a_person else EXIT_OK


def plan_stack(options: RenderOptions, report: Reporter) -> PlanOutcome:
    """The upgrade plan: each cluster's render at its golden's release against its render now."""
    fresh = _render_fresh(options, report, full=False, run_verify=False)
    target = options.golden_root
    # Goldens come from pull requests: a bad one is refused (SG708), never followed or quoted.
    plans = _at(target, lambda: _plans(fresh, target, options))
    return PlanOutcome(tuple(plans), fresh.rendered.failed)


def _plans(fresh: _Fresh, target: Path, options: RenderOptions) -> list[plan_.ClusterPlan]:
    from stackgen import plan as plan_
    rendered, stack = fresh.rendered, fresh.checked.stack
    pins = old_pins(fresh.checked, target, rendered, fresh.tool, options.jobs, choice=options.upstream)
    goldens = {c: read_golden(target, c) for c in rendered.golden}
    golden_pins = {c: golden_.golden_pin(files, f"{target / c / 'index.yaml'}") for c, files in goldens.items()}
    indexed = {c: golden_.read_index(files["index.yaml"], f"{target / c / 'index.yaml'}")["resources"]
               for c, files in goldens.items() if "index.yaml" in files}
    plans = []
    for cluster in rendered.result.clusters:
        if cluster.error:
            continue
        old = pins.get(cluster.cluster)
        plans.append(plan_.plan_cluster(cluster.cluster, golden_pins.get(cluster.cluster),
                                        releases.release_of(stack.upstream.kubeflow, stack.cluster(cluster.cluster)),
                                        None if old is None or old.resources is None else old.resources.values(),
                                        cluster.resources, indexed.get(cluster.cluster, ())))
    return plans


def vendor_mirror(source: Path, pin: str | None) -> tuple[str, Path]:
    """`stackgen vendor`: the mirror at `source` into the cache, under the release it holds (or `pin`)."""
    return vendor_.vendor(source, pin)
