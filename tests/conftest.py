from __future__ import annotations

import os
import shutil
import tempfile
import typing as t

import pytest

from stackgen import kustomize as kz
from tests import reach

_CACHE_VARIABLE = "STACKGEN_TESTS_CACHE"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/cases/*/expected from the current compiler; review the result with git diff",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The suite's caches (renders, vendored pins, the editor tests' npm install) live in one
    # temporary folder for the whole session, never in the user's ~/.cache: the controller makes
    # it before the xdist workers start, and they inherit it through the environment, so a unit
    # rendered by one test file is cached for every other. Tests about caching use their own.
    if hasattr(config, "workerinput") or os.environ.get(_CACHE_VARIABLE):
        return
    folder = tempfile.mkdtemp(prefix="stackgen-tests-cache-")
    os.environ[_CACHE_VARIABLE] = folder
    os.environ["XDG_CACHE_HOME"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


# The files that take longest (measured with --durations=0), longest first. xdist hands each
# test file to one worker in collection order, so a long file collected last would leave the
# other worker idle at the end; starting with these makes the two workers finish together.
_LONGEST_FIRST = (
    "test_upstream_builds.py", "test_faults.py", "test_hostile.py", "test_recipes.py", "test_concurrency.py",
    "test_wheel.py", "test_secrets.py", "test_render_failures.py", "test_determinism.py", "test_cli_output.py",
    "test_quickstart.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def kustomize() -> kz.Kustomize:
    """The kustomize the tests render with, found as stackgen finds it; tests that need one skip without."""
    try:
        return kz.find_kustomize()
    except kz.KustomizeNotFound as error:
        pytest.skip(str(error))


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> t.Generator[None, t.Any, None]:
    outcome = yield
    tally = reach.TALLIES.pop(getattr(item, "originalname", item.name), None)
    if tally is not None and call.when == "call":  # user_properties travel from xdist workers to the controller
        outcome.get_result().user_properties.append(("reach", reach.line(item.nodeid, tally)))


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    lines = sorted({value for reports in terminalreporter.stats.values() for report in reports
                    for key, value in getattr(report, "user_properties", ()) if key == "reach"})
    if lines:
        terminalreporter.section("property tests: share of examples that reached the code they test")
        for text in lines:
            terminalreporter.write_line(text)
