"""The `stackgen` command line: parses options, calls the driver, prints, sets the exit code.

Exit codes: 0 ok or up to date; 1 invalid input, stale output (--check) or changes found;
2 usage or environment errors (bad flag, unwritable output, kustomize missing).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import typing as t
from dataclasses import dataclass
from pathlib import Path

import click

from stackgen import __version__, catalog, driver, releases, scaffold
from stackgen import explain as explain_
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import mirror as mirror_
from stackgen import plan as plan_
from stackgen import vendor as vendor_
from stackgen import write as writer
from stackgen.compile import images as images_
from stackgen.diagnostics import (
    Diagnostic,
    EnvironmentProblem,
    Style,
    ansi,
    plain,
    plural,
    render_github,
    render_text,
)
from stackgen.model import Cloud
from stackgen.validate import schema_text

EXIT_OK, EXIT_INVALID, EXIT_ENVIRONMENT = 0, 1, 2


class Failure(Exception):
    """Ends a command: printed once by `_edge`, in the command's --format, then its exit code."""

    def __init__(self, problem: EnvironmentProblem, exit_code: int = EXIT_ENVIRONMENT):
        super().__init__(problem.message)
        self.problem = problem
        self.exit_code = exit_code


def _fail(code: str, message: str, file: object = "", hint: str | None = None, exit_code: int = EXIT_ENVIRONMENT) -> t.NoReturn:
    where = str(file) if file else ""
    if where and message.startswith(f"{where}: "):  # errors that name their file already: say it once
        message = message[len(where) + 2:]
    raise Failure(EnvironmentProblem(code, message, where, hint), exit_code)


def _edge(command: t.Callable[..., None]) -> t.Callable[..., None]:
    """For commands whose --format json output is the list of diagnostics (validate, build,
    render): that list on stdout once, with any Failure in it."""
    return _edge_of(command, lists_diagnostics=True)


def _edge_own_json(command: t.Callable[..., None]) -> t.Callable[..., None]:
    """For commands with JSON of their own (diff, images): a Failure replaces it as a one-item list."""
    return _edge_of(command, lists_diagnostics=False)


def _edge_of(command: t.Callable[..., None], lists_diagnostics: bool) -> t.Callable[..., None]:
    """Print a command's Failure where its diagnostics go: JSON and GitHub annotations on stdout
    with --format json / github, text on stderr otherwise."""

    @functools.wraps(command)
    def run(**options: t.Any) -> None:
        output_format = options.get("output_format", "text")
        pending = click.get_current_context().meta.setdefault(_PENDING_JSON, [])
        try:
            command(**options)
        except Failure as failure:
            if output_format == "json":
                pending.append(failure.problem.as_json())
            elif output_format == "github":
                click.echo(failure.problem.github())
            else:
                click.echo(failure.problem.render(_output().style(sys.stderr)), err=True, color=True)
            sys.exit(failure.exit_code)
        finally:
            if output_format == "json" and (pending or lists_diagnostics):  # one JSON list, whatever ended the command
                click.echo(json.dumps(pending, indent=2, ensure_ascii=False))

    return run


_PENDING_JSON = "stackgen.json"


def _emit_json(items: t.Iterable[dict[str, t.Any]]) -> None:
    click.get_current_context().meta.setdefault(_PENDING_JSON, []).extend(items)

stack_option = click.option(
    "-f", "--file", "stack_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=Path("stack.yaml"),
    show_default=True, help="The stack to compile.",
)
format_option = click.option(
    "--format", "output_format", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
    help="How diagnostics are printed: text on stderr; json, or GitHub Actions annotations, on stdout.",
)


@dataclass(frozen=True)
class Output:
    """How much to say and whether to paint it, from --quiet/--verbose/--color and NO_COLOR."""

    verbosity: int  # -1 quiet: errors and warnings only; 0 normal; 1 verbose
    color: str  # auto | always | never

    def style(self, stream: t.TextIO) -> Style:
        if self.color == "always":
            return ansi
        # https://no-color.org: a non-empty NO_COLOR turns colour off unless asked for explicitly.
        wanted = self.color == "auto" and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return ansi if wanted and stream.isatty() else plain

    def say(self, text: str, err: bool = False) -> None:
        if self.verbosity >= 0:
            click.echo(text, err=err)

    def detail(self, text: str) -> None:
        if self.verbosity > 0:
            click.echo(text, err=True)


def _remember(ctx: click.Context, param: click.Parameter, value: t.Any) -> t.Any:
    # Shared by the group and every command, so `stackgen -q build` and `stackgen build -q` both work;
    # a command's default never undoes what the group was told.
    # (The defaults are False and None, so any other value was asked for.)
    chosen = ctx.meta.setdefault("stackgen.output", {})
    if value not in (None, False) or param.name not in chosen:
        chosen[param.name] = value
    return value


def output_options(command: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    options = [
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_remember,
                     help="Print only errors and warnings: no summary, no progress."),
        click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_remember,
                     help="Also say what was done: files written, pieces built or cached, tools used."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default=None, expose_value=False,
                     callback=_remember, help="Colour diagnostics [default: auto: on a terminal, unless NO_COLOR is set]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _output() -> Output:
    chosen = click.get_current_context().meta.get("stackgen.output", {})
    if chosen.get("quiet") and chosen.get("verbose"):
        raise click.UsageError("--quiet and --verbose exclude each other")
    return Output(-1 if chosen.get("quiet") else 1 if chosen.get("verbose") else 0, chosen.get("color") or "auto")


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    try:
        tool = kz.find_kustomize(None).describe()
    except kz.KustomizeNotFound as error:
        tool = f"kustomize: not found (render, diff and images need one): {error}"
    click.echo(f"stackgen {__version__}\n{tool}")
    for pin in catalog.SUPPORTED_RELEASES:
        mirror = vendor_.cache_dir(pin)
        try:
            where = f"vendored at {mirror}" if (mirror / "remotes.yaml").is_file() else "not vendored: `stackgen vendor --from DIR`"
        except OSError as error:  # an unreadable cache is something to report, not a crash
            where = f"cache unreadable at {mirror}: {error.strerror or error}"
        click.echo(f"kubeflow/manifests {pin} ({where})")
    ctx.exit(EXIT_OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the versions of stackgen and kustomize and the pinned Kubeflow release, then exit.")
@output_options
def cli() -> None:
    """Compile one stack.yaml into one self-contained Kustomize overlay per cluster."""


def _report(diagnostics: t.Sequence[Diagnostic], output_format: str) -> None:
    if output_format == "json":
        _emit_json(d.as_json() for d in sorted(diagnostics))
    elif output_format == "github":
        click.echo(render_github(diagnostics), nl=False)
    elif diagnostics:
        # color=True: click would strip the codes off a pipe, but the style already decided (--color always).
        click.echo(render_text(diagnostics, _output().style(sys.stderr)), nl=False, err=True, color=True)


def _checked(stack_file: Path, output_format: str) -> driver.Checked | None:
    checked = driver.check_stack(stack_file, str(stack_file))
    _report(checked.diagnostics, output_format)
    return checked if checked.ok else None


@cli.command()
@output_options
@stack_option
@format_option
@_edge
def validate(stack_file: Path, output_format: str) -> None:
    """Load and validate stack.yaml (schema, cross-references, placement)."""
    checked = _checked(stack_file, output_format)
    if checked is None:
        sys.exit(EXIT_INVALID)
    if output_format != "text":
        return
    output = _output()
    for plan in checked.placement.plans:  # type: ignore[union-attr]
        output.detail(f"{plan.cluster.name} ({plan.cluster.cloud}): {', '.join(plan.component_names) or 'no components'}; "
                      f"{plural(len(plan.training_jobs), 'training job')}, {plural(len(plan.models), 'model')}")
    count = len(checked.stack.clusters)  # type: ignore[union-attr]
    output.say(f"{stack_file}: valid ({plural(count, 'cluster')})")


@cli.command()
@output_options
@stack_option
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where overlays are written [default: spec.gitops.path beside stack.yaml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if the output is stale.")
@click.option("--upstream", "upstream", multiple=True,
              help="With upstream.mode vendored: the mirror to vendor from, DIR or TAG=DIR per release (repeatable) "
                   "[default: $STACKGEN_UPSTREAM, then the vendored cache].")
@format_option
@_edge
def build(stack_file: Path, output: Path | None, check_only: bool, upstream: tuple[str, ...], output_format: str) -> None:
    """Validate, place and compile stack.yaml into overlays/."""
    checked = _checked(stack_file, output_format)
    if checked is None:
        sys.exit(EXIT_INVALID)
    files = _output_tree(checked, stack_file, upstream)
    out = output or driver.default_output(stack_file, checked.stack)  # type: ignore[arg-type]
    changes = _written(out, lambda: driver.build(files, out, check_only))
    for path in changes.foreign:
        click.echo(f"{out / path}: warning: not written by stackgen; kept as is", err=True)
    _summarise(out, changes, check_only, _output())
    if check_only and changes.stale:
        sys.exit(EXIT_INVALID)


def _output_tree(checked: driver.Checked, stack_file: Path, upstream: tuple[str, ...]) -> dict[str, bytes]:
    try:
        return driver.output_tree(checked, releases.parse_upstream(upstream))
    except releases.UpstreamOptionError as error:
        _fail("SG704", str(error))
    except (driver.UpstreamMissing, mirror_.MirrorError) as error:
        # Vendored mode copies upstream into the output: located at the key that asks for it.
        where = checked.loaded.source.value_at(("spec", "upstream", "mode"))
        _fail("SG704", f"upstream.mode vendored needs the upstream mirror at build time: {error}",
              f"{stack_file}:{where.line}:{where.column}")


def _written(out: Path, write: t.Callable[[], writer.Changes]) -> writer.Changes:
    try:
        return write()
    except writer.OwnershipError as error:
        _fail("SG701", str(error), out)
    except writer.OutputError as error:
        _fail("SG702", str(error), out)
    except golden_.GoldenError as error:  # a kept golden that is a link, special or oversized: input, refused
        _fail("SG708", str(error), out, exit_code=EXIT_INVALID)


def _summarise(out: Path, changes: writer.Changes, check_only: bool, output: Output) -> None:
    if check_only:
        if changes.interrupted:
            click.echo(f"{out}: an interrupted build left a journal; run `stackgen build` to finish it", err=True)
        for label, paths in (("missing", changes.added), ("differs", changes.changed), ("extra", changes.removed)):
            for path in paths:
                click.echo(f"{out / path}: {label}", err=True)
        output.say(f"{out}: stale: {_counts(changes)}" if changes.stale else f"{out}: up to date")
        return
    for label, paths in (("added", changes.added), ("changed", changes.changed), ("removed", changes.removed)):
        for path in paths:
            output.detail(f"{out / path}: {label}")
    output.say(f"{out}: {_counts(changes)}" if changes.stale else f"{out}: up to date")


def _counts(changes: writer.Changes) -> str:
    return f"{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed"


@cli.command()
@output_options
@stack_option
@click.argument("subject")
@_edge
def explain(stack_file: Path, subject: str) -> None:
    """Why something went where it did. SUBJECT is KIND/NAME, e.g. trainingJob/resnet50.

    KIND is one of cluster, component, dataset, trainingJob, model, secret.
    """
    checked = _checked(stack_file, "text")
    if checked is None:
        sys.exit(EXIT_INVALID)
    try:
        text = explain_.explain(checked.stack, checked.placement, subject, str(stack_file), checked.loaded.source)  # type: ignore[arg-type]
    except explain_.UnknownSubject as error:
        _fail("SG706" if subject.startswith("cluster/") else "SG202", str(error), exit_code=EXIT_INVALID)
    click.echo(text, nl=False)


@cli.command()
@output_options
@stack_option
@click.option("--format", "graph_format", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True,
              help="dot for Graphviz, mermaid for Markdown that GitHub and GitLab draw.")
@_edge
def graph(stack_file: Path, graph_format: str) -> None:
    """Draw clusters, components, datasets, jobs and models, and where each went."""
    checked = _checked(stack_file, "text")
    if checked is None:
        sys.exit(EXIT_INVALID)
    draw = explain_.graph_dot if graph_format == "dot" else explain_.graph_mermaid
    click.echo(draw(checked.stack, checked.placement), nl=False)  # type: ignore[arg-type]


def _render_options(command: t.Callable[..., None]) -> t.Callable[..., None]:
    options = [
        stack_option,
        click.option("--overlays", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="The compiled overlays [default: spec.gitops.path beside stack.yaml]."),
        click.option("--upstream", "upstream", multiple=True,
                     help="Upstream mirror: DIR, or TAG=DIR per kubeflow/manifests release (repeatable) "
                          "[default: $STACKGEN_UPSTREAM, then the vendored cache]."),
        click.option("--kustomize", "kustomize_path", default=None, help="kustomize (or kubectl) binary to use."),
        click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel kustomize builds [default: cores]."),
        click.option("--cluster", "clusters", multiple=True, help="Only this cluster (repeatable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _rendered(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
              clusters: tuple[str, ...], full: bool, run_verify: bool = True,
              output_format: str = "text") -> tuple[driver.Checked, driver.Rendered]:
    # An invalid stack's diagnostics go where the command's --format sends its errors: with json,
    # into the one list on stdout (never `[]` there and text on stderr).
    checked = _checked(stack_file, output_format if output_format in ("json", "github") else "text")
    if checked is None:
        sys.exit(EXIT_INVALID)
    stack = checked.stack
    assert stack is not None
    out = overlays or driver.default_output(stack_file, stack)
    tree = _output_tree(checked, stack_file, upstream)
    try:
        stale = writer.check(out, tree).stale
    except writer.OwnershipError as error:
        _fail("SG701", str(error), out)
    except writer.OutputError as error:
        _fail("SG702", str(error), out)
    if stale:
        _fail("SG705", "overlays are stale or missing; run `stackgen build` first", out, exit_code=EXIT_INVALID)
    try:
        tool = kz.find_kustomize(kustomize_path)
    except kz.KustomizeNotFound as error:
        _fail("SG703", str(error))
    wanted = [c for c in stack.clusters if not clusters or c.name in clusters]
    pins = sorted({releases.release_of(stack.upstream.kubeflow, c) for c in wanted} or {stack.upstream.kubeflow})
    try:
        choice = releases.parse_upstream(upstream)
        roots = {pin: driver.upstream_dir(releases.explicit_for(choice, pin), pin) for pin in pins}
    except (driver.UpstreamMissing, releases.UpstreamOptionError) as error:
        _fail("SG704", str(error))
    with tempfile.TemporaryDirectory(prefix="stackgen-mirrors-") as scratch:
        # Waves on several releases: one workspace maps each release onto its own mirror.
        primary = stack.upstream.kubeflow if stack.upstream.kubeflow in roots else pins[0]
        try:
            mirror_root = roots[primary] if len(roots) == 1 else mirror_.combine(
                roots[primary], {p: r for p, r in roots.items() if p != primary}, Path(scratch))
        except mirror_.MirrorError as error:
            _fail("SG704", str(error))
        return _rendered_from(checked, out, mirror_root, tool, clusters, jobs, full, run_verify)


def _rendered_from(checked: driver.Checked, out: Path, mirror_root: Path, tool: kz.Kustomize, clusters: tuple[str, ...],
                   jobs: int | None, full: bool, run_verify: bool) -> tuple[driver.Checked, driver.Rendered]:
    output = _output()
    output.detail(f"using {tool.describe()}; upstream mirror {mirror_root}")
    # A progress line only for a person at a terminal: CI logs keep no carriage returns.
    watched = output.verbosity >= 0 and sys.stderr.isatty() and not os.environ.get("CI")
    show = (lambda line: click.echo(f"\r\033[K{line}", err=True, nl=False)) if watched else None
    try:
        rendered = driver.render_checked(checked, out, mirror_root, tool, clusters, jobs or 0, full, show, run_verify)
    except driver.UnknownCluster as error:
        _fail("SG706", str(error))
    except mirror_.MirrorError as error:
        _fail("SG704", str(error))
    if show:
        click.echo("\r\033[K", err=True, nl=False)
    for cluster in rendered.result.clusters:
        output.detail(f"{out / cluster.overlay}: {len(cluster.resources)} resources" if not cluster.error else f"{out / cluster.overlay}: failed")
        if cluster.error:
            click.echo(f"{out / cluster.overlay}: error: kustomize build failed for cluster {cluster.cluster}:\n{cluster.error}", err=True)
    return checked, rendered


@cli.command()
@output_options
@_render_options
@click.option("-o", "--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where goldens are written [default: golden/ beside stack.yaml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if golden/ is stale.")
@click.option("--golden-format", type=click.Choice(["compact", "full"]), default="compact", show_default=True,
              help="compact: an index, stackgen's own objects and patches to upstream; full: every resource in full.")
@format_option
@_edge
def render(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], golden_dir: Path | None, check_only: bool, golden_format: str, output_format: str) -> None:
    """Render every cluster with kustomize, verify it, and write compact goldens."""
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, golden_format == "full",
                                  output_format=output_format)
    output = _output()
    out = overlays or driver.default_output(stack_file, checked.stack)  # type: ignore[arg-type]
    style = output.style(sys.stderr)
    for problem in rendered.problems:
        file = str(out / problem.overlay / "kustomization.yaml")
        if output_format == "github":
            click.echo(problem.github(file))
        elif output_format == "text":
            click.echo(problem.render(file, style), err=True, color=True)
    if output_format == "json":
        _emit_json(p.as_json() for p in rendered.problems)
    target = golden_dir or stack_file.parent / "golden"
    stack_clusters = [c.name for c in checked.stack.clusters]  # type: ignore[union-attr]
    changes = _written(target, lambda: driver.golden_changes(target, rendered, stack_clusters, check_only))
    for path in changes.foreign:
        click.echo(f"{target / path}: warning: not written by stackgen; kept as is", err=True)
    touched = changes.added + changes.changed + changes.removed
    stale = sorted({path.split("/", 1)[0] for path in touched if "/" in path}) or (["golden/"] if changes.stale else [])
    result = rendered.result
    if output_format == "text":
        kept = f"; golden kept for {', '.join(rendered.held_back)} (failed)" if rendered.held_back else ""
        output.say(f"rendered {plural(len(result.clusters), 'cluster')} with kustomize {result.kustomize_version}: "
                   f"{result.built} built, {result.cached} cached; {_golden_summary(stale, check_only)}{kept}")
    if rendered.failed or (check_only and stale):
        sys.exit(EXIT_INVALID)


def _golden_summary(changed: list[str], check_only: bool) -> str:
    if not changed:
        return "golden up to date"
    return ("golden stale for " if check_only else "golden updated for ") + ", ".join(changed)


@cli.command()
@output_options
@_render_options
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Goldens to compare with [default: golden/ beside stack.yaml].")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text for a terminal, markdown for a pull-request comment, json for tools; all on stdout.")
@_edge_own_json
def diff(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
         clusters: tuple[str, ...], golden_dir: Path | None, output_format: str) -> None:
    """Semantic diff of a fresh render against golden/: which resource, which field."""
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, False, run_verify=False,
                                  output_format=output_format)
    target = golden_dir or stack_file.parent / "golden"
    try:
        diffs = _diffs(checked, rendered, target, kustomize_path, jobs, clusters, releases.parse_upstream(upstream))
    except golden_.GoldenError as error:  # goldens come from pull requests: a bad one is refused, never followed or quoted
        _fail("SG708", str(error), target, exit_code=EXIT_INVALID)
    if output_format == "text":
        click.echo(golden_.render_text(diffs, _output().style(sys.stdout)), nl=False, color=True)
    else:
        click.echo((golden_.render_markdown if output_format == "markdown" else golden_.render_json)(diffs), nl=False)
    if rendered.failed or any(d.changes or d.notes for d in diffs):
        sys.exit(EXIT_INVALID)


@cli.command()
@output_options
@_render_options
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Goldens of the old release [default: golden/ beside stack.yaml].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for a person, json for tools; on stdout.")
@_edge_own_json
def plan(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
         clusters: tuple[str, ...], golden_dir: Path | None, output_format: str) -> None:
    """Upgrade plan: what needs a person before the sync onto a new Kubeflow release (exit 1 if anything)."""
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, False, run_verify=False,
                                  output_format=output_format)
    target = golden_dir or stack_file.parent / "golden"
    try:
        old_pins = driver.old_pins(checked, target, rendered, kz.find_kustomize(kustomize_path), jobs or 0,
                                   choice=releases.parse_upstream(upstream))
        goldens = {c: driver.read_golden(target, c) for c in rendered.golden}
        pins = {c: golden_.golden_pin(files, f"{target / c / 'index.yaml'}") for c, files in goldens.items()}
        indexed = {c: golden_.read_index(files["index.yaml"], f"{target / c / 'index.yaml'}")["resources"]
                   for c, files in goldens.items() if "index.yaml" in files}
    except golden_.GoldenError as error:
        _fail("SG708", str(error), target, exit_code=EXIT_INVALID)
    stack = checked.stack
    assert stack is not None
    plans = [plan_.plan_cluster(c.cluster, pins.get(c.cluster), releases.release_of(stack.upstream.kubeflow, stack.cluster(c.cluster)),
                                None if (old := old_pins.get(c.cluster)) is None or old.resources is None else old.resources.values(),
                                c.resources, indexed.get(c.cluster, ()))
             for c in rendered.result.clusters if not c.error]
    click.echo((plan_.render_json if output_format == "json" else plan_.render_text)(plans), nl=False)
    if rendered.failed or any(p.items or p.note.startswith("kubeflow/manifests") for p in plans):
        sys.exit(EXIT_INVALID)


def _diffs(checked: driver.Checked, rendered: driver.Rendered, target: Path, kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], choice: releases.MirrorChoice) -> list[golden_.ClusterDiff]:
    old_pins = driver.old_pins(checked, target, rendered, kz.find_kustomize(kustomize_path), jobs or 0, choice=choice)
    current = {c.cluster: {golden_.resource_key(r): r for r in c.resources} for c in rendered.result.clusters if not c.error}
    diffs = [golden_.diff_cluster(cluster, driver.read_golden(target, cluster), files, old_pins.get(cluster), current.get(cluster))
             for cluster, files in sorted(rendered.golden.items())]
    if not clusters:  # a cluster gone from the stack: every resource it had is removed
        gone = set(driver.golden_clusters(target)) - {c.name for c in checked.stack.clusters}  # type: ignore[union-attr]
        diffs += [golden_.diff_cluster(cluster, driver.read_golden(target, cluster), {}) for cluster in sorted(gone)]
    return diffs


@cli.command()
@output_options
@_render_options
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one image (or SOURCE TARGET pair) per line, by cluster; json: the same as a mapping.")
@_edge_own_json
def images(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], output_format: str) -> None:
    """Every container image each cluster's render pulls, for mirroring into a private registry.

    With `spec.registry.mirror` set, each line is `SOURCE TARGET` (e.g. for `crane copy`).
    """
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, False, run_verify=False,
                                  output_format=output_format)
    mirror = checked.stack.registry_mirror if checked.stack else None
    listing = {c.cluster: images_.pulled(c.resources, mirror) for c in rendered.result.clusters if not c.error}
    click.echo((images_.render_json if output_format == "json" else images_.render_text)(listing), nl=False)
    if rendered.failed:
        sys.exit(EXIT_INVALID)


@cli.command()
@output_options
@click.option("--from", "source", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="A mirror folder laid out like ../shared/upstream.")
@click.option("--pin", default=None, help="The kubeflow/manifests tag the mirror holds [default: the one its remotes.yaml maps].")
@_edge
def vendor(source: Path, pin: str | None) -> None:
    """Copy a pinned upstream mirror into the local cache (one folder per release), for offline renders."""
    try:
        pin, target = vendor_.vendor(source, pin)
    except mirror_.MirrorError as error:
        _fail("SG704", str(error))
    _output().say(f"vendored {source} as kubeflow/manifests {pin} into {target}")


@cli.command()
@output_options
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("stack.yaml"), show_default=True,
              help="The stack to write; stack.schema.json goes beside it.")
@click.option("--cloud", "clouds", type=click.Choice(scaffold.CLOUDS), multiple=True, help="A cluster on this cloud (repeatable) [default: aws].")
@click.option("--engine", type=click.Choice(scaffold.ENGINES), default="argocd", show_default=True, help="The GitOps engine.")
@_edge
def init(output: Path, clouds: tuple[Cloud, ...], engine: scaffold.Engine) -> None:
    """Write a commented starter stack.yaml that builds as is, and the schema its editor modeline names."""
    repeated = sorted({cloud for cloud in clouds if clouds.count(cloud) > 1})
    if repeated:
        raise click.UsageError(f"--cloud {', '.join(repeated)} given more than once: init writes one cluster per cloud")
    try:
        written = scaffold.write(output, clouds, engine)
    except scaffold.Exists as error:
        _fail("SG707", str(error))
    except OSError as error:
        _fail("SG702", f"cannot write {error.filename}: {error.strerror}")
    _output().say("".join(f"wrote {path}\n" for path in written) + f"next: stackgen validate -f {output}")


@cli.command()
@output_options
def schema() -> None:
    """Print the JSON Schema of stack.yaml (for editors and other validators)."""
    click.echo(schema_text(), nl=False)


def main() -> None:
    try:
        cli.main(prog_name="stackgen", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ENVIRONMENT)
    except click.exceptions.Abort:
        sys.exit(EXIT_ENVIRONMENT)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        click.echo(f"stackgen: internal error: {type(error).__name__}: {error}. Please report it.", err=True)
        sys.exit(EXIT_ENVIRONMENT)
