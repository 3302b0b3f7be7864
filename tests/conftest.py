"""Shared fixtures: a seeded rng, the Agg backend, the real datasets folder."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

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
