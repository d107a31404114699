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
