"""What a user waits for: stackgen's commands end to end, as ratios to one bare kustomize build.

    python benchmarks/cli.py [--upstream ../shared/upstream] [--sizes 10 100 1000] [--render 20] [--repeat 3]

Every figure is a whole `python -m stackgen ...` process (start-up, reading, writing included),
timed over `--repeat` runs (min / median), beside the yardstick measured in this same process: a
bare `kustomize build` of the pinned upstream's `example/` (the whole Kubeflow platform, what a
hand-kept overlay costs to build once). Ratios cancel the machine out; the per-cluster figures
at each size show whether a command grows linearly.

The fleet is realistic: each cluster carries its own values (an EKS OIDC issuer and IAM role
per AWS cluster, a service account per GKE cluster, a client id per AKS cluster, an ingress host
per GKE and edge cluster), so per-cluster units appear as they do in a real fleet.

A benchmark, never a test: tests/test_benchmarks.py only checks the fleets stay valid stacks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.build import fleet  # noqa: E402
from stackgen import kustomize as kz  # noqa: E402
from stackgen import mirror  # noqa: E402

GOALS = {  # the goals, as ratios to the yardstick or in seconds
    "validate 1000": "< 0.5 s", "build 1000 new": "< 2 s", "build 1000 unchanged": "< 0.5 s",
    "render cold": "<= 3x", "render warm": "<= 0.2x", "render one cold": "<= 1.1x", "render one warm": "<= 0.1x",
    "diff warm": "< 2 s",
}


def realistic_fleet(size: int) -> bytes:
    """benchmarks/build.py's fleet, where every cluster also carries values of its own."""
    tree = yaml.safe_load(fleet(size))
    for i, cluster in enumerate(tree["spec"]["clusters"]):
        cloud = cluster["cloud"]
        identity = cluster.setdefault("identity", {})
        if cloud == "aws":
            identity["awsRoleArn"] = f"arn:aws:iam::123456789012:role/ml-{i}"
        elif cloud == "gcp":
            cluster["region"] = "europe-west4"
            identity["gcpServiceAccount"] = f"ml-serving-{i}@acme-ml.iam.gserviceaccount.com"
            cluster["ingressHost"] = f"ml-{i}.gcp.acme.example.com"
        elif cloud == "azure":
            identity["azureClientId"] = f"3f1c2d4e-5a6b-4c7d-8e9f-{i:012d}"
        else:
            del cluster["identity"]
            cluster["ingressHost"] = f"store-{i}.edge.acme.example.com"
            cluster["s3Endpoint"] = f"http://minio-{i}.lan:9000"
    return yaml.safe_dump(tree, sort_keys=False).encode()


def _stackgen(args: list[str], env: dict[str, str], cwd: Path, peaks: list[int] | None = None) -> float:
    """Seconds for one whole `stackgen` process; a run that did not succeed is never a figure.
    `peaks` gets the process's peak resident memory, in KiB (wait4's rusage, this child alone)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([sys.executable, "-m", "stackgen", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"stackgen {' '.join(args)} exited {process.returncode}:\n{errors.read().decode()[-4000:]}")
    if peaks is not None:
        peaks.append(usage.ru_maxrss)
    return elapsed


def _spread(runs: t.Sequence[float]) -> str:
    return f"{min(runs):7.2f} / {statistics.median(runs):7.2f} s"


class Report:
    def __init__(self, yardstick: float):
        self.yardstick = yardstick

        self.by_size: dict[str, dict[int, float]] = {}  # command -> clusters -> best seconds

    def line(self, label: str, runs: t.Sequence[float], goal_key: str = "", clusters: int | None = None, command: str = "") -> None:
        per = f"  {1000 * min(runs) / clusters:7.2f} ms/cluster" if clusters else ""
        if command and clusters:
            self.by_size.setdefault(command, {})[clusters] = min(runs)
        goal = f"  goal {GOALS[goal_key]}" if goal_key in GOALS else ""
        print(f"  {label:<48} {_spread(runs)}  {min(runs) / self.yardstick:6.2f}x{per}{goal}", flush=True)


    def growth(self) -> None:
        """Linear means: k times the clusters costs at most about k times the time. Start-up is
        a constant, so the step between the two largest sizes is the one that tells."""
        for command, times in self.by_size.items():
            sizes = sorted(times)
            steps = [f"{a}->{b}: x{b / a:.0f} clusters, x{times[b] / times[a]:.2f} time" for a, b in zip(sizes, sizes[1:])]
            if steps:
                largest = sizes[-2:]
                verdict = "linear" if times[largest[1]] / times[largest[0]] <= 1.25 * largest[1] / largest[0] else "SUPERLINEAR"
                print(f"  growth, {command:<28} {'; '.join(steps)}  ({verdict})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, default=ROOT.parent / "shared" / "upstream")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--render", type=int, default=20, help="clusters of the fleet to render (0: skip the render figures)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stackgen-cli-bench-"))
    try:
        _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def yardstick(upstream: Path, work: Path, repeat: int) -> float:
    """Best of `repeat` bare `kustomize build`s of upstream's example/, printed; what every ratio divides by."""
    tool = kz.find_kustomize()
    (work / "no-overlays").mkdir()
    # The mirror copied with its remote bases mapped, as render does: example/ then builds offline.
    example = mirror.materialize(mirror.open_mirror(upstream), work / "no-overlays", work / "example").upstream / "kubeflow-manifests" / "example"
    yardsticks = []
    for _ in range(repeat):
        start = time.perf_counter()
        kz.build(tool, example)
        yardsticks.append(time.perf_counter() - start)
    print(f"yardstick: bare `kustomize build` of upstream example/: {_spread(yardsticks)} ({tool.describe()})")
    return min(yardsticks)


def _set_aside(tree: Path, work: Path) -> None:
    """Out of the way for a run into new output, deleted only when the benchmark ends: freeing
    23,000 files slows the file system's next creations for seconds (ext4 mounted with
    `discard` here), which would be timed as the build's own cost. A new output is what a
    fresh clone builds into, with nothing just deleted, and nothing of an earlier run unwritten."""
    if tree.exists():
        tree.rename(work / f"set-aside-{len(list(work.glob('set-aside-*')))}")
    # What earlier runs wrote goes to disk now, not inside the next run's own flush.
    os.sync()


def _run(args: argparse.Namespace, work: Path) -> None:
    report = Report(yardstick(args.upstream, work, args.repeat))
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "STACKGEN_UPSTREAM": str(args.upstream)}
    for size in args.sizes:
        project = work / f"fleet-{size}"
        project.mkdir()
        (project / "stack.yaml").write_bytes(realistic_fleet(size))
        report.line(f"validate, {size} clusters", [_stackgen(["validate", "-q"], env, project) for _ in range(args.repeat)],
                    f"validate {size}", size, "validate")
        cold: list[float] = []
        peaks: list[int] = []
        for _ in range(args.repeat):
            _set_aside(project / "overlays", work)
            cold.append(_stackgen(["build", "-q"], env, project, peaks))
        report.line(f"build, {size} clusters, new output", cold, f"build {size} new", size, "build, new output")
        print(f"  {'  peak memory of that build':<48} {max(peaks) / 1024:7.0f} MiB  {max(peaks) / size:8.1f} KiB/cluster", flush=True)
        report.line(f"build, {size} clusters, nothing changed", [_stackgen(["build", "-q"], env, project) for _ in range(args.repeat)],
                    f"build {size} unchanged", size, "build, nothing changed")
    report.growth()
    if args.render:
        _render_figures(args, work, env, report)


def _render_figures(args: argparse.Namespace, work: Path, env: dict[str, str], report: Report) -> None:
    project = work / "render"
    project.mkdir()
    (project / "stack.yaml").write_bytes(realistic_fleet(args.render))
    _stackgen(["build", "-q"], env, project)
    clusters = sorted(p.name for p in (project / "overlays" / "clusters").iterdir())
    one = clusters[0]
    cold, warm, one_cold, one_warm = [], [], [], []
    for attempt in range(args.repeat):
        fresh = {**env, "XDG_CACHE_HOME": str(work / f"render-cache-{attempt}")}
        _set_aside(project / "golden", work)
        cold.append(_stackgen(["render", "-q", "--jobs", "2"], fresh, project))
        warm.append(_stackgen(["render", "-q", "--jobs", "2"], fresh, project))
        alone = {**env, "XDG_CACHE_HOME": str(work / f"one-cache-{attempt}")}
        one_cold.append(_stackgen(["render", "-q", "--cluster", one, "-o", str(work / f"one-{attempt}")], alone, project))
        one_warm.append(_stackgen(["render", "-q", "--cluster", one, "-o", str(work / f"one-{attempt}")], alone, project))
    report.line(f"render, {args.render} clusters, cold, --jobs 2", cold, "render cold")
    report.line(f"render, {args.render} clusters, warm", warm, "render warm")
    report.line(f"render --cluster {one}, cold", one_cold, "render one cold")
    report.line(f"render --cluster {one}, warm", one_warm, "render one warm")
    report.line(f"diff, {args.render} clusters, warm, no change",
                [_stackgen(["diff", "--jobs", "2"], {**env, "XDG_CACHE_HOME": str(work / "render-cache-0")}, project)
                 for _ in range(args.repeat)], "diff warm")


if __name__ == "__main__":
    main()
