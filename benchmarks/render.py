"""Render, verify and diff figures, as ratios to a bare `kustomize build` of one cluster overlay.

    python benchmarks/render.py [--upstream ../shared/upstream] [--fleet 20]

Everything runs in this process against the same mirror, so the ratios cancel out the machine.
Prints: the bare build (the yardstick), then the bundled stack and a generated fleet rendered
cold (empty cache) and warm, one full verify against its render, and a diff of two renders.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.build import fleet  # noqa: E402
from stackgen import golden, mirror, render, verify  # noqa: E402
from stackgen import kustomize as kz  # noqa: E402
from stackgen.driver import Checked, check_stack, compile_checked  # noqa: E402
from stackgen.layout import Layout  # noqa: E402
from stackgen.load import load_bytes  # noqa: E402


def timed(work: t.Callable[[], t.Any]) -> tuple[float, t.Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def write_overlays(stack_file: Path, out: Path) -> tuple[Path, Layout]:
    checked = check_stack(stack_file)
    assert isinstance(checked, Checked), [d.render() for d in checked.diagnostics]
    compiled = compile_checked(checked)
    for path, content in compiled.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(content)
    return out, compiled.layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, default=ROOT.parent / "shared" / "upstream")
    parser.add_argument("--fleet", type=int, default=20)
    args = parser.parse_args()
    tool = kz.find_kustomize()
    work = Path(tempfile.mkdtemp(prefix="stackgen-bench-"))
    bundled, bundled_layout = write_overlays(ROOT / "stack.yaml", work / "bundled")
    fleet_file = work / "fleet.yaml"
    tree = yaml.safe_load(fleet(args.fleet))
    for cluster in tree["spec"]["clusters"]:
        cluster["region"] = "us-east-1" if cluster["cloud"] == "aws" else cluster["region"]
    fleet_file.write_text(yaml.safe_dump(tree, sort_keys=False))
    assert load_bytes(fleet_file.read_bytes()).ok
    fleet_overlays, fleet_layout = write_overlays(fleet_file, work / "fleet")

    workspace = mirror.materialize(mirror.open_mirror(args.upstream), bundled, work / "bare")
    bare, _ = timed(lambda: kz.build(tool, workspace.overlays / "clusters" / "aws-use1"))
    print(f"yardstick: bare `kustomize build` of clusters/aws-use1: {bare:.2f} s ({tool.describe()})")

    def ratio(label: str, seconds: float, base: float = bare, goal: str = "") -> None:
        print(f"  {label:<44} {seconds:7.2f} s  {seconds / base:6.2f}x {goal}")

    for label, overlays, layout in (("bundled stack (4 clusters)", bundled, bundled_layout),
                                    (f"generated fleet ({args.fleet} clusters)", fleet_overlays, fleet_layout)):
        cache = work / f"cache-{overlays.name}"
        cold, result = timed(lambda: render.render(overlays, args.upstream, tool, layout, cache=cache))
        warm, _ = timed(lambda: render.render(overlays, args.upstream, tool, layout, cache=cache))
        naive = len(result.clusters)
        ratio(f"{label}: render cold ({result.built} unit builds)", cold, goal=f"(naive ~{naive}x; goal <= 3x for 20)")
        ratio(f"{label}: render warm", warm, goal="(goal <= 0.2x)")

    cache = work / "cache-bundled"
    one_render, result = timed(lambda: render.render(bundled, args.upstream, tool, bundled_layout, clusters=["aws-use1"], cache=None))
    [cluster] = result.clusters
    declared = verify.declared_vars(args.upstream)
    verify_time, problems = timed(lambda: verify.verify(cluster, "1.31", args.upstream / "crds", declared))
    ratio("verify of aws-use1, vs its render", verify_time, one_render, "(goal <= 0.25x)")
    old = golden.golden_files(cluster, {}, "26.03", tool.version, full=True)
    changed = [dict(r) for r in cluster.resources]
    changed[len(changed) // 2] = {**changed[len(changed) // 2], "metadata": {**changed[len(changed) // 2]["metadata"], "labels": {"bench": "x"}}}
    new = golden.golden_files(render.ClusterRender("aws-use1", "clusters/aws-use1", tuple(changed), cluster.origins), {}, "26.03", tool.version, full=True)
    diff_time, diff = timed(lambda: golden.diff_cluster("aws-use1", old, new))
    print(f"  {'diff of two full renders (aws-use1)':<44} {diff_time:7.2f} s  (goal < 1 s; {len(diff.changes)} change found)")


if __name__ == "__main__":
    main()
