"""The `stackgen` command line: each command fills its options, calls one driver function and
prints the outcome; `_edge_of` is the one place a command ends, with its exit code or its error.

Exit codes (stackgen.errors): 0 ok or up to date; 1 invalid input, stale output (--check) or
changes found; 2 usage or environment errors (bad flag, unwritable output, kustomize missing).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import click

from stackgen import __version__, catalog, driver, releases, scaffold
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import vendor as vendor_
from stackgen import write as writer
from stackgen.diagnostics import (
    Diagnostic,
    Style,
    ansi,
    plain,
    plural,
    render_github,
    render_text,
)
from stackgen.errors import EXIT_ENVIRONMENT, EXIT_OK, Invalid, KustomizeNotFound, StackgenError

if t.TYPE_CHECKING:
    from stackgen.model import Cloud


def _edge(command: t.Callable[..., int]) -> t.Callable[..., None]:
    """For commands whose --format json output is the list of diagnostics (validate, build,
    render): that list on stdout once, with any failure in it."""
    return _edge_of(command, lists_diagnostics=True)


def _edge_own_json(command: t.Callable[..., int]) -> t.Callable[..., None]:
    """For commands with JSON of their own (diff, images): a failure replaces it as a one-item list."""
    return _edge_of(command, lists_diagnostics=False)


def _edge_of(command: t.Callable[..., int], lists_diagnostics: bool) -> t.Callable[..., None]:
    """The one place a command ends: its exit code, or its StackgenError printed where its
    diagnostics go (JSON and GitHub annotations on stdout with --format json / github, text on
    stderr otherwise) and mapped to the error's exit code."""

    @functools.wraps(command)
    def run(**options: t.Any) -> None:
        output_format = options.get("output_format", "text")
        pending = click.get_current_context().meta.setdefault(_PENDING_JSON, [])
        try:
            exit_code = command(**options)
        except Invalid as invalid:  # its diagnostics are printed already
            exit_code = invalid.exit_code
        except StackgenError as error:
            problem = error.problem()
            if output_format == "json":
                pending.append(problem.as_json())
            elif output_format == "github":
                click.echo(problem.github())
            else:
                click.echo(problem.render(_output().style(sys.stderr)), err=True, color=True)
            exit_code = error.exit_code
        finally:
            if output_format == "json" and (pending or lists_diagnostics):  # one JSON list, whatever ended the command
                click.echo(json.dumps(pending, indent=2, ensure_ascii=False))
        click.get_current_context().exit(exit_code)

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
    except KustomizeNotFound as error:
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


class _Reporter:
    """Prints what the driver reports, as it happens, in the command's --format."""

    def __init__(self, output_format: str):
        self.output_format = output_format  # text | json | github: where diagnostics go
        self._progress_shown = False

    def diagnostics(self, found: t.Sequence[Diagnostic]) -> None:
        if self.output_format == "json":
            _emit_json(d.as_json() for d in sorted(found))
        elif self.output_format == "github":
            click.echo(render_github(found), nl=False)
        elif found:
            # color=True: click would strip the codes off a pipe, but the style already decided (--color always).
            click.echo(render_text(found, _output().style(sys.stderr)), nl=False, err=True, color=True)

    def rendering(self, tool: kz.Kustomize, mirror_root: Path) -> t.Callable[[str], None] | None:
        output = _output()
        output.detail(f"using {tool.describe()}; upstream mirror {mirror_root}")
        # A progress line only for a person at a terminal: CI logs keep no carriage returns.
        self._progress_shown = output.verbosity >= 0 and sys.stderr.isatty() and not os.environ.get("CI")
        return (lambda line: click.echo(f"\r\033[K{line}", err=True, nl=False)) if self._progress_shown else None

    def rendered(self, rendered: driver.Rendered, overlays: Path) -> None:
        if self._progress_shown:
            click.echo("\r\033[K", err=True, nl=False)
        output = _output()
        for cluster in rendered.result.clusters:
            output.detail(f"{overlays / cluster.overlay}: {len(cluster.resources)} resources" if not cluster.error
                          else f"{overlays / cluster.overlay}: failed")
            if cluster.error:
                click.echo(f"{overlays / cluster.overlay}: error: kustomize build failed for cluster {cluster.cluster}:\n{cluster.error}", err=True)
        style = output.style(sys.stderr)
        for problem in rendered.problems:
            file = str(overlays / problem.overlay / "kustomization.yaml")
            if self.output_format == "github":
                click.echo(problem.github(file))
            elif self.output_format == "text":
                click.echo(problem.render(file, style), err=True, color=True)
        if self.output_format == "json":
            _emit_json(p.as_json() for p in rendered.problems)


def _diagnostics_format(output_format: str) -> str:
    """Where an invalid stack's diagnostics go: with json, into the one list on stdout (never
    `[]` there and text on stderr); with github, as annotations; otherwise as text on stderr."""
    return output_format if output_format in ("json", "github") else "text"


@cli.command()
@output_options
@stack_option
@format_option
@_edge
def validate(stack_file: Path, output_format: str) -> int:
    """Load and validate stack.yaml (schema, cross-references, placement)."""
    checked = driver.checked_stack(stack_file, _Reporter(output_format))
    if output_format == "text":
        output = _output()
        for plan in checked.placement.plans:
            output.detail(f"{plan.cluster.name} ({plan.cluster.cloud}): {', '.join(plan.component_names) or 'no components'}; "
                          f"{plural(len(plan.training_jobs), 'training job')}, {plural(len(plan.models), 'model')}")
        output.say(f"{stack_file}: valid ({plural(len(checked.stack.clusters), 'cluster')})")
    return EXIT_OK


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
def build(stack_file: Path, output: Path | None, check_only: bool, upstream: tuple[str, ...], output_format: str) -> int:
    """Validate, place and compile stack.yaml into overlays/."""
    options = driver.BuildOptions(stack_file, output, check_only, releases.parse_upstream(upstream))
    built = driver.build_stack(options, _Reporter(output_format))
    _foreign(built.output, built.changes)
    _summarise(built.output, built.changes, check_only, _output())
    return built.exit_code


def _foreign(root: Path, changes: writer.Changes) -> None:
    for path in changes.foreign:
        click.echo(f"{root / path}: warning: not written by stackgen; kept as is", err=True)


def _summarise(out: Path, changes: writer.Changes, check_only: bool, output: Output) -> None:
    if check_only:
        if changes.interrupted:
            click.echo(f"{out}: an interrupted build left a journal; run `stackgen build` to finish it", err=True)
        for label, paths in (("missing", changes.added), ("differs", changes.changed), ("extra", changes.removed)):
            for path in paths:
                click.echo(f"{out / path}: {label}", err=True)
        output.say(f"{out}: stale: {_counts(changes)}" if changes.stale else f"{out}: up to date")
        return
    if output.verbosity > 0:  # a new fleet is 23,000 lines nobody asked for otherwise
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
def explain(stack_file: Path, subject: str) -> int:
    """Why something went where it did. SUBJECT is KIND/NAME, e.g. trainingJob/resnet50.

    KIND is one of cluster, component, dataset, trainingJob, model, secret, tenant.
    """
    click.echo(driver.explain_subject(stack_file, subject, _Reporter("text")), nl=False)
    return EXIT_OK


@cli.command()
@output_options
@stack_option
@click.option("--format", "graph_format", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True,
              help="dot for Graphviz, mermaid for Markdown that GitHub and GitLab draw.")
@_edge
def graph(stack_file: Path, graph_format: t.Literal["dot", "mermaid"]) -> int:
    """Draw clusters, components, datasets, jobs and models, and where each went."""
    click.echo(driver.draw_graph(stack_file, graph_format, _Reporter("text")), nl=False)
    return EXIT_OK


def _render_options(command: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
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


def _render_opts(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
                 clusters: tuple[str, ...], golden: Path | None = None) -> driver.RenderOptions:
    return driver.RenderOptions(stack_file, overlays, releases.parse_upstream(upstream), kustomize_path, jobs or 0, clusters, golden)


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
           clusters: tuple[str, ...], golden_dir: Path | None, check_only: bool, golden_format: str, output_format: str) -> int:
    """Render every cluster with kustomize, verify it, and write compact goldens."""
    options = _render_opts(stack_file, overlays, upstream, kustomize_path, jobs, clusters, golden_dir)
    done = driver.render_stack(options, check_only, golden_format == "full", _Reporter(_diagnostics_format(output_format)))
    _foreign(done.golden_root, done.changes)
    if output_format == "text":
        result, held_back = done.rendered.result, done.rendered.held_back
        kept = f"; golden kept for {', '.join(held_back)} (failed)" if held_back else ""
        _output().say(f"rendered {plural(len(result.clusters), 'cluster')} with kustomize {result.kustomize_version}: "
                      f"{result.built} built, {result.cached} cached; {_golden_summary(done.stale, check_only)}{kept}")
    return done.exit_code


def _golden_summary(changed: t.Sequence[str], check_only: bool) -> str:
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
         clusters: tuple[str, ...], golden_dir: Path | None, output_format: str) -> int:
    """Semantic diff of a fresh render against golden/: which resource, which field."""
    options = _render_opts(stack_file, overlays, upstream, kustomize_path, jobs, clusters, golden_dir)
    done = driver.diff_stack(options, _Reporter(_diagnostics_format(output_format)))
    if output_format == "text":
        click.echo(golden_.render_text(done.diffs, _output().style(sys.stdout)), nl=False, color=True)
    else:
        click.echo((golden_.render_markdown if output_format == "markdown" else golden_.render_json)(done.diffs), nl=False)
    return done.exit_code


@cli.command()
@output_options
@_render_options
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Goldens of the old release [default: golden/ beside stack.yaml].")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text for a person, markdown for a pull-request comment, json for tools; on stdout.")
@_edge_own_json
def plan(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
         clusters: tuple[str, ...], golden_dir: Path | None, output_format: str) -> int:
    """Upgrade plan: what needs a person before the sync onto a new Kubeflow release (exit 1 if anything)."""
    from stackgen import plan as plan_  # imported by the command that uses it: start-up is every command's cost

    options = _render_opts(stack_file, overlays, upstream, kustomize_path, jobs, clusters, golden_dir)
    done = driver.plan_stack(options, _Reporter(_diagnostics_format(output_format)))
    show = {"text": plan_.render_text, "markdown": plan_.render_markdown, "json": plan_.render_json}[output_format]
    click.echo(show(done.plans), nl=False)
    return done.exit_code


@cli.command()
@output_options
@_render_options
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one image (or SOURCE TARGET pair) per line, by cluster; json: the same as a mapping.")
@_edge_own_json
def images(stack_file: Path, overlays: Path | None, upstream: tuple[str, ...], kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], output_format: str) -> int:
    """Every container image each cluster's render pulls, for mirroring into a private registry.

    With `spec.registry.mirror` set, each line is `SOURCE TARGET` (e.g. for `crane copy`).
    """
    from stackgen.compile import images as images_

    options = _render_opts(stack_file, overlays, upstream, kustomize_path, jobs, clusters)
    done = driver.list_images(options, _Reporter(_diagnostics_format(output_format)))
    click.echo((images_.render_json if output_format == "json" else images_.render_text)(done.listing), nl=False)
    return done.exit_code


@cli.command()
@output_options
@click.option("--from", "source", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="A mirror folder laid out like ../shared/upstream.")
@click.option("--pin", default=None, help="The kubeflow/manifests tag the mirror holds [default: the one its remotes.yaml maps].")
@_edge
def vendor(source: Path, pin: str | None) -> int:
    """Copy a pinned upstream mirror into the local cache (one folder per release), for offline renders."""
    held, target = driver.vendor_mirror(source, pin)
    _output().say(f"vendored {source} as kubeflow/manifests {held} into {target}")
    return EXIT_OK


@cli.command()
@output_options
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("stack.yaml"), show_default=True,
              help="The stack to write; stack.schema.json goes beside it.")
@click.option("--cloud", "clouds", type=click.Choice(scaffold.CLOUDS), multiple=True, help="A cluster on this cloud (repeatable) [default: aws].")
@click.option("--engine", type=click.Choice(scaffold.ENGINES), default="argocd", show_default=True, help="The GitOps engine.")
@_edge
def init(output: Path, clouds: tuple[Cloud, ...], engine: scaffold.Engine) -> int:
    """Write a commented starter stack.yaml that builds as is, and the schema its editor modeline names."""
    repeated = sorted({cloud for cloud in clouds if clouds.count(cloud) > 1})
    if repeated:
        raise click.UsageError(f"--cloud {', '.join(repeated)} given more than once: init writes one cluster per cloud")
    written = driver.write_starter(output, clouds, engine)
    _output().say("".join(f"wrote {path}\n" for path in written) + f"next: stackgen validate -f {output}")
    return EXIT_OK


@cli.command()
@output_options
def schema() -> None:
    """Print the JSON Schema of stack.yaml (for editors and other validators)."""
    from stackgen.schemafile import schema_text

    click.echo(schema_text(), nl=False)


def main() -> None:
    # One command per process, making hundreds of thousands of objects that live to its end (a
    # fleet's model, its files, renders): collecting cycles every 700 allocations cost 0.13 of a
    # 1.45 s build of 1,000 clusters (issue 19). A high first threshold, as mypy sets for the
    # same reason, still collects in a long render.
    gc.set_threshold(200_000, 30, 30)
    sys.exit(_run())


def _run() -> int:
    try:
        outcome = cli.main(prog_name="stackgen", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return EXIT_ENVIRONMENT
    except click.exceptions.Abort:
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        click.echo(f"stackgen: internal error: {type(error).__name__}: {error}. Please report it.", err=True)
        return EXIT_ENVIRONMENT
    # standalone_mode=False hands back the code a command exited with (None: a plain return).
    return outcome if isinstance(outcome, int) else EXIT_OK
