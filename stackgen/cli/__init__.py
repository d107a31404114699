"""The `stackgen` command line: parses options, calls the driver, prints, sets the exit code.

Exit codes: 0 ok or up to date; 1 invalid input, stale output (--check) or changes found;
2 usage or environment errors (bad flag, unwritable output, kustomize missing).
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import click

import json

from stackgen import __version__, driver
from stackgen import golden as golden_
from stackgen import kustomize as kz
from stackgen import mirror as mirror_
from stackgen import scaffold
from stackgen import vendor as vendor_
from stackgen import explain as explain_
from stackgen import images as images_
from stackgen import write as writer
from stackgen.diagnostics import Diagnostic, render_json, render_text
from stackgen.validate import schema_text

EXIT_OK, EXIT_INVALID, EXIT_ENVIRONMENT = 0, 1, 2

stack_option = click.option(
    "-f", "--file", "stack_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=Path("stack.yaml"),
    show_default=True, help="The stack to compile.",
)
format_option = click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="How diagnostics are printed.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackgen")
def cli() -> None:
    """Compile one stack.yaml into one self-contained Kustomize overlay per cluster."""


def _report(diagnostics: t.Sequence[Diagnostic], output_format: str) -> None:
    if output_format == "json":
        click.echo(render_json(diagnostics), nl=False)
    elif diagnostics:
        click.echo(render_text(diagnostics), nl=False, err=True)


def _checked(stack_file: Path, output_format: str) -> driver.Checked | None:
    checked = driver.check_stack(stack_file, str(stack_file))
    _report(checked.diagnostics, output_format)
    return checked if checked.ok else None


@cli.command()
@stack_option
@format_option
def validate(stack_file: Path, output_format: str) -> None:
    """Load and validate stack.yaml (schema, cross-references, placement)."""
    checked = _checked(stack_file, output_format)
    if checked is None:
        sys.exit(EXIT_INVALID)
    if output_format == "text":
        click.echo(f"{stack_file}: valid ({len(checked.stack.clusters)} clusters)")  # type: ignore[union-attr]


@cli.command()
@stack_option
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where overlays are written [default: spec.gitops.path beside stack.yaml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if the output is stale.")
@format_option
def build(stack_file: Path, output: Path | None, check_only: bool, output_format: str) -> None:
    """Validate, place and compile stack.yaml into overlays/."""
    checked = _checked(stack_file, output_format)
    if checked is None:
        sys.exit(EXIT_INVALID)
    files = driver.compile_checked(checked)
    out = output or driver.default_output(stack_file, checked.stack)  # type: ignore[arg-type]
    try:
        changes = driver.build(files, out, check_only)
    except writer.OwnershipError as error:
        click.echo(f"{error}", err=True)
        sys.exit(EXIT_INVALID)
    except writer.OutputError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    for path in changes.foreign:
        click.echo(f"{out / path}: warning: not written by stackgen; kept as is", err=True)
    _summarise(out, changes, check_only)
    if check_only and changes.stale:
        sys.exit(EXIT_INVALID)


def _summarise(out: Path, changes: writer.Changes, check_only: bool) -> None:
    if check_only:
        if changes.interrupted:
            click.echo(f"{out}: an interrupted build left a journal; run `stackgen build` to finish it", err=True)
        for label, paths in (("missing", changes.added), ("differs", changes.changed), ("extra", changes.removed)):
            for path in paths:
                click.echo(f"{out / path}: {label}", err=True)
        click.echo(f"{out}: stale: {_counts(changes)}" if changes.stale else f"{out}: up to date")
    else:
        click.echo(f"{out}: {_counts(changes)}" if changes.stale else f"{out}: up to date")


def _counts(changes: writer.Changes) -> str:
    return f"{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed"


@cli.command()
@stack_option
@click.argument("subject")
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
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(text, nl=False)


@cli.command()
@stack_option
@click.option("--format", "graph_format", type=click.Choice(["dot", "mermaid"]), default="dot", show_default=True)
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
        click.option("--upstream", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="Upstream mirror [default: $STACKGEN_UPSTREAM, then the vendored cache]."),
        click.option("--kustomize", "kustomize_path", default=None, help="kustomize (or kubectl) binary to use."),
        click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel kustomize builds [default: cores]."),
        click.option("--cluster", "clusters", multiple=True, help="Only this cluster (repeatable)."),
        click.option("--quiet", is_flag=True, help="No progress output."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _rendered(stack_file: Path, overlays: Path | None, upstream: Path | None, kustomize_path: str | None, jobs: int | None,
              clusters: tuple[str, ...], quiet: bool, full: bool, run_verify: bool = True) -> tuple[driver.Checked, driver.Rendered]:
    checked = _checked(stack_file, "text")
    if checked is None:
        sys.exit(EXIT_INVALID)
    stack = checked.stack
    assert stack is not None
    out = overlays or driver.default_output(stack_file, stack)
    if writer.check(out, driver.compile_checked(checked)).stale:
        click.echo(f"{out}: overlays are stale or missing; run `stackgen build` first", err=True)
        sys.exit(EXIT_INVALID)
    try:
        tool = kz.find_kustomize(kustomize_path)
        mirror_root = driver.upstream_dir(upstream, stack.upstream.kubeflow)
    except (kz.KustomizeNotFound, driver.UpstreamMissing) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    show = None if quiet or not sys.stderr.isatty() else (lambda line: click.echo(f"\r\033[K{line}", err=True, nl=False))
    try:
        rendered = driver.render_checked(checked, out, mirror_root, tool, clusters, jobs or 0, full, show, run_verify)
    except KeyError as error:
        click.echo(f"error: {error.args[0]}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    except mirror_.MirrorError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    if show:
        click.echo("\r\033[K", err=True, nl=False)
    for cluster in rendered.result.clusters:
        if cluster.error:
            click.echo(f"{out / cluster.overlay}: error: kustomize build failed for cluster {cluster.cluster}:\n{cluster.error}", err=True)
    return checked, rendered


@cli.command()
@_render_options
@click.option("-o", "--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where goldens are written [default: golden/ beside stack.yaml].")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if golden/ is stale.")
@click.option("--golden-format", type=click.Choice(["compact", "full"]), default="compact", show_default=True)
@format_option
def render(stack_file: Path, overlays: Path | None, upstream: Path | None, kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], quiet: bool, golden_dir: Path | None, check_only: bool, golden_format: str, output_format: str) -> None:
    """Render every cluster with kustomize, verify it, and write compact goldens."""
    _, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, quiet, golden_format == "full")
    if output_format == "json":
        click.echo(json.dumps([p.as_json() for p in rendered.problems], indent=2))
    else:
        for problem in rendered.problems:
            click.echo(problem.render(), err=True)
    target = golden_dir or stack_file.parent / "golden"
    try:
        changes = driver.golden_changes(target, rendered, check_only)
    except (writer.OwnershipError, writer.OutputError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ENVIRONMENT if isinstance(error, writer.OutputError) else EXIT_INVALID)
    stale = [cluster for cluster, change in changes.items() if change.stale]
    result = rendered.result
    if not quiet and output_format == "text":
        click.echo(f"rendered {len(result.clusters)} clusters with kustomize {result.kustomize_version}: "
                   f"{result.built} built, {result.cached} cached; {_golden_summary(stale, check_only)}")
    if rendered.failed or (check_only and stale):
        sys.exit(EXIT_INVALID)


def _golden_summary(changed: list[str], check_only: bool) -> str:
    if not changed:
        return "golden up to date"
    return ("golden stale for " if check_only else "golden updated for ") + ", ".join(changed)


@cli.command()
@_render_options
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Goldens to compare with [default: golden/ beside stack.yaml].")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def diff(stack_file: Path, overlays: Path | None, upstream: Path | None, kustomize_path: str | None, jobs: int | None,
         clusters: tuple[str, ...], quiet: bool, golden_dir: Path | None, output_format: str) -> None:
    """Semantic diff of a fresh render against golden/: which resource, which field."""
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, True, False, run_verify=False)
    target = golden_dir or stack_file.parent / "golden"
    old_pins = driver.old_pins(checked, target, rendered, kz.find_kustomize(kustomize_path), jobs or 0)
    current = {c.cluster: {golden_.resource_key(r): r for r in c.resources} for c in rendered.result.clusters if not c.error}
    diffs = [golden_.diff_cluster(cluster, driver.read_golden(target, cluster), files, old_pins.get(cluster), current.get(cluster))
             for cluster, files in sorted(rendered.golden.items())]
    printer = {"text": golden_.render_text, "markdown": golden_.render_markdown, "json": golden_.render_json}[output_format]
    click.echo(printer(diffs), nl=False)
    if rendered.failed or any(d.changes or d.notes for d in diffs):
        sys.exit(EXIT_INVALID)


@cli.command()
@_render_options
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def images(stack_file: Path, overlays: Path | None, upstream: Path | None, kustomize_path: str | None, jobs: int | None,
           clusters: tuple[str, ...], quiet: bool, output_format: str) -> None:
    """Every container image each cluster's render pulls, for mirroring into a private registry.

    With `spec.registry.mirror` set, each line is `SOURCE TARGET` (e.g. for `crane copy`).
    """
    checked, rendered = _rendered(stack_file, overlays, upstream, kustomize_path, jobs, clusters, quiet, False, run_verify=False)
    mirror = checked.stack.registry_mirror if checked.stack else None
    listing = {c.cluster: images_.pulled(c.resources, mirror) for c in rendered.result.clusters if not c.error}
    click.echo((images_.render_json if output_format == "json" else images_.render_text)(listing), nl=False)
    if rendered.failed:
        sys.exit(EXIT_INVALID)


@cli.command()
@click.option("--from", "source", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="A mirror folder laid out like ../shared/upstream.")
@click.option("--pin", default="26.03", show_default=True, help="The kubeflow/manifests tag the mirror holds.")
def vendor(source: Path, pin: str) -> None:
    """Copy a pinned upstream mirror into the local cache, for offline renders."""
    try:
        target = vendor_.vendor(source, pin)
    except mirror_.MirrorError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    click.echo(f"vendored {source} as kubeflow/manifests {pin} into {target}")


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("stack.yaml"), show_default=True,
              help="The stack to write; stack.schema.json goes beside it.")
@click.option("--cloud", "clouds", type=click.Choice(scaffold.CLOUDS), multiple=True, help="A cluster on this cloud (repeatable) [default: aws].")
@click.option("--engine", type=click.Choice(scaffold.ENGINES), default="argocd", show_default=True, help="The GitOps engine.")
def init(output: Path, clouds: tuple[scaffold.Cloud, ...], engine: scaffold.Engine) -> None:
    """Write a commented starter stack.yaml that builds as is, and the schema its editor modeline names."""
    try:
        written = scaffold.write(output, clouds, engine)
    except scaffold.Exists as error:
        click.echo(f"stackgen: error: {error}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    except OSError as error:
        click.echo(f"stackgen: error: cannot write {error.filename}: {error.strerror}", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    click.echo("".join(f"wrote {path}\n" for path in written) + f"next: stackgen validate -f {output}")


@cli.command()
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
