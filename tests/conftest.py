"""Shared fixtures (a seeded rng, the Agg backend, the real datasets folder) and the
``ref`` marker of tests that compare with a test-only reference library."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

# no per-example deadline anywhere: CI may run jobs side by side on a busy machine, and a
# property's speed is the benchmarks' business, never a test's
settings.register_profile("funnelkit", deadline=None)
settings.load_profile("funnelkit")

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
#: Real public datasets live beside the checkout (``../shared/data``).
SHARED_DATA = Path(os.environ.get("FUNNELKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def shared_data() -> Path:
    """The ``../shared/data`` folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (set FUNNELKIT_SHARED_DATA)")
    return SHARED_DATA


#: Test-only reference libraries that pin old dependencies (lifelines: pandas < 3). Tests
#: that use one get the ``ref`` marker; CI runs them in their own job (``.ci/run``).
REFERENCE_LIBRARIES = ("lifelines",)
#: Set in CI's reference job: a ``ref`` test that skips there (library missing) fails.
REQUIRE_REFERENCE = os.environ.get("FUNNELKIT_REQUIRE_REFERENCE") == "1"


def _uses_reference(item: pytest.Item) -> bool:
    func = getattr(item, "function", None)
    if func is None:
        return False
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return any(lib in source for lib in REFERENCE_LIBRARIES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_reference(item):
            item.add_marker(pytest.mark.ref)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_REFERENCE and report.skipped and item.get_closest_marker("ref") is not None:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"reference test skipped in the reference job (FUNNELKIT_REQUIRE_REFERENCE=1): "
            f"{reason}. Install the reference libraries: pip install -e '.[ref]'."
        )
