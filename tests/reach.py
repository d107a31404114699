"""How many of a property test's examples got as far as the code the test is named for.

A property test over generated stacks proves little if most examples are refused at validate:
the test then "passes" on compile without compiling. `@reaching("compile", floor=0.5)` wraps a
hypothesis test, counts the examples whose body called `reached()`, fails the test when the share
falls below the floor, and records the share for the end-of-run table (conftest.py prints it).

The floors sit well under the measured shares: the tests run derandomized, so a share moves only
when the strategy, the code under test or hypothesis itself changes, and then the test says so.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import typing as t

from hypothesis import event


@dataclasses.dataclass
class Tally:
    stage: str
    floor: float
    examples: int = 0
    reached: int = 0

    @property
    def share(self) -> float:
        return self.reached / self.examples if self.examples else 0.0


TALLIES: dict[str, Tally] = {}
_CURRENT: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("reach", default=None)


def example(reached_stage: bool) -> None:
    """Call once per example: did this one get to the stage under test?"""
    tally = _CURRENT.get()
    if tally is None:
        raise RuntimeError("reach.example() outside a @reaching test")
    tally.examples += 1
    tally.reached += reached_stage
    event(f"reached {tally.stage}" if reached_stage else f"stopped before {tally.stage}")


def reaching(stage: str, floor: float) -> t.Callable[[t.Callable[..., None]], t.Callable[..., None]]:
    def decorate(test: t.Callable[..., None]) -> t.Callable[..., None]:
        @functools.wraps(test)
        def counted(*args: t.Any, **kwargs: t.Any) -> None:
            tally = Tally(stage, floor)
            token = _CURRENT.set(tally)
            try:
                test(*args, **kwargs)
            finally:
                _CURRENT.reset(token)
            TALLIES[test.__name__] = tally
            assert tally.examples, f"{test.__name__} ran no example"
            assert tally.share >= floor, (
                f"{test.__name__}: only {tally.reached} of {tally.examples} examples "
                f"({tally.share:.0%}) reached {stage}; the floor is {floor:.0%}"
            )

        return counted

    return decorate


def line(test: str, tally: Tally) -> str:
    return f"{test}: {tally.reached}/{tally.examples} ({tally.share:.0%}) reached {tally.stage} (floor {tally.floor:.0%})"
