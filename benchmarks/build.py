"""Compile time for generated fleets of 10, 100 and 1,000 clusters.

    python benchmarks/build.py [--sizes 10 100 1000] [--repeat 3]

Prints, per fleet size, the best of `--repeat` runs for each stage (load, validate, model+place,
compile) and the total, in milliseconds and per cluster. A benchmark figure, never a test:
goal 1,000 clusters under 2 s on one core, growing linearly.
"""

from __future__ import annotations

import argparse
import sys
import time
import typing as t
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackgen.compile.overlays import compile_stack  # noqa: E402
from stackgen.load import load_bytes  # noqa: E402
from stackgen.model import build_model  # noqa: E402
from stackgen.place import place  # noqa: E402
from stackgen.validate import validate  # noqa: E402

CLOUDS = ("aws", "gcp", "azure", "onprem")
ROLE_SETS = (["training", "notebooks"], ["serving"], ["serving", "notebooks"], ["edge"])


def fleet(size: int) -> bytes:
    clusters = []
    for i in range(size):
        cloud = CLOUDS[i % 4]
        roles = list(ROLE_SETS[i % 4]) if cloud != "onprem" else ["edge"]  # copies: shared lists dump as YAML aliases
        cluster: dict[str, t.Any] = {
            "name": f"{cloud}-{i:04d}", "cloud": cloud, "region": f"region-{i % 7}",
            "kubernetesVersion": "1.31", "roles": roles, "server": f"https://k8s-{i}.example.com",
        }
        if cloud == "aws":
            cluster["region"] = "us-east-1"
            cluster["oidcIssuer"] = f"https://oidc.eks.us-east-1.amazonaws.com/id/ID{i:06d}"
            cluster["identity"] = {"awsRoleArn": "arn:aws:iam::123456789012:role/ml-workloads"}  # reads its s3:// data (SG410)
        if cloud == "azure":  # its Key Vault secrets name the vault's tenant (SG406 otherwise)
            cluster["identity"] = {"azureTenantId": "6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"}
        clusters.append(cluster)
    training = [c["name"] for c in clusters if "training" in c["roles"]]
    azure = [c["name"] for c in clusters if c["cloud"] == "azure"]
    # Key Vault needs its name for the references that replace upstream's default credentials.
    credentials = [("dex-passwords", "auth"), ("dex-oidc-client", "auth"), ("oauth2-proxy", "oauth2-proxy")]
    secrets = [{"name": name, "namespace": namespace, "store": "azure-key-vault", "key": f"fleet-kv/{name}", "runsOn": list(azure)}
               for name, namespace in credentials] if azure else []
    tree = {
        "apiVersion": "stackgen.io/v1alpha1", "kind": "Stack", "metadata": {"name": "fleet"},
        "spec": {
            "gitops": {"engine": "argocd", "repoURL": "https://github.com/acme/fleet.git"},
            "clusters": clusters,
            "components": {
                "pipelines": {"runsOn": ["training"]}, "notebooks": {"runsOn": ["notebooks"]},
                "katib": {"runsOn": ["training"]}, "kserve": {"runsOn": ["serving", "edge"]},
            },
            "datasets": [{"name": f"data-{i}", "uri": f"s3://acme/data-{i}", "cluster": c} for i, c in enumerate(training)],
            "trainingJobs": [{"name": f"job-{i}", "dataset": f"data-{i}", "image": "ghcr.io/acme/train:1"} for i in range(len(training))],
            "models": [{"name": "ranker", "storageUri": "hf://acme/ranker", "format": "onnx", "serveOn": ["serving", "edge"]}],
            "secrets": secrets,
        },
    }
    return yaml.safe_dump(tree, sort_keys=False).encode()


def best(repeat: int, work: t.Callable[[], t.Any]) -> tuple[float, t.Any]:
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'clusters':>8} {'load':>8} {'validate':>9} {'place':>8} {'compile':>8} {'total':>8} {'per cluster':>12} {'files':>7}")
    for size in args.sizes:
        data = fleet(size)
        t_load, loaded = best(args.repeat, lambda: load_bytes(data))
        assert loaded.ok, loaded.diagnostics[:3]
        t_validate, diagnostics = best(args.repeat, lambda: validate(loaded))
        assert not diagnostics, diagnostics[:3]
        t_place, (stack, placement) = best(args.repeat, lambda: (lambda s: (s, place(s)))(build_model(loaded.tree)))
        t_compile, files = best(args.repeat, lambda: compile_stack(stack, placement).files)
        total = t_load + t_validate + t_place + t_compile
        print(
            f"{size:>8} {t_load * 1e3:>6.0f}ms {t_validate * 1e3:>7.0f}ms {t_place * 1e3:>6.0f}ms "
            f"{t_compile * 1e3:>6.0f}ms {total * 1e3:>6.0f}ms {total / size * 1e3:>9.2f}ms {len(files):>7}"
        )


if __name__ == "__main__":
    main()
