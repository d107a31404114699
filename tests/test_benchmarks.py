"""The benchmarks' generated fleets stay valid stacks, so a figure never silently stops being measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.build import fleet
from benchmarks.cli import realistic_fleet
from stackgen.driver import Checked, check_stack


@pytest.mark.parametrize("size", [4, 20, 101])
def test_generated_fleet_is_a_valid_stack(tmp_path: Path, size: int) -> None:
    (tmp_path / "fleet.yaml").write_bytes(fleet(size))
    checked = check_stack(tmp_path / "fleet.yaml")
    assert isinstance(checked, Checked), [d.render() for d in checked.diagnostics]
    assert len(checked.stack.clusters) == size


@pytest.mark.parametrize("size", [4, 21])
def test_realistic_fleet_is_a_valid_stack_with_values_per_cluster(tmp_path: Path, size: int) -> None:
    (tmp_path / "fleet.yaml").write_bytes(realistic_fleet(size))
    checked = check_stack(tmp_path / "fleet.yaml")
    assert isinstance(checked, Checked), [d.render() for d in checked.diagnostics]
    clusters = checked.stack.clusters
    assert len(clusters) == size
    assert len({c.identity for c in clusters if c.cloud != "onprem"}) == len([c for c in clusters if c.cloud != "onprem"])


def test_the_kapitan_inventory_writes_what_stackgen_wrote(tmp_path: Path) -> None:
    """The Kapitan side of benchmarks/kapitan.py compares like with like: its templates, rendered
    as Kapitan renders jinja2 inputs (kapitan/utils.py render_jinja2_file: StrictUndefined,
    trim_blocks, lstrip_blocks, the target's inventory as `inventory`), give back for every target
    the files stackgen compiled for that cluster, byte for byte."""
    import jinja2
    import yaml

    from benchmarks.kapitan import SHARED, inventory
    from stackgen.driver import compile_checked

    stack = realistic_fleet(9)
    (tmp_path / "fleet.yaml").write_bytes(stack)
    checked = check_stack(tmp_path / "fleet.yaml")
    assert isinstance(checked, Checked)
    made = inventory(stack, compile_checked(checked).files)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    assert set(made.expected) == {c.name for c in checked.stack.clusters} | {SHARED}
    for target, want in made.expected.items():
        body = yaml.safe_load(made.files[f"inventory/targets/{target}.yml"])
        classes = body.get("classes", [])
        shape = classes[0].removeprefix("shapes.") if classes else SHARED
        prefix = f"templates/{shape}/"
        parameters = body["parameters"]
        got = {path.removeprefix(prefix): environment.from_string(text).render(inventory={"parameters": parameters}).encode()
               for path, text in made.files.items() if path.startswith(prefix)}
        assert got == want, target
