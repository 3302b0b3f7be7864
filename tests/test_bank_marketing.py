"""The bundled UCI Bank Marketing extract: same values as the source, attributed."""

from __future__ import annotations

import pandas as pd

from funnelkit.datasets import load_bank_marketing

from .conftest import ROOT

KEPT = ["age", "job", "marital", "education", "contact", "month", "campaign", "previous"]


def test_extract_matches_the_uci_file(shared_data):
    source = pd.read_csv(shared_data / "uci_bank_marketing" / "bank.csv", sep=";")
    bank = load_bank_marketing()
    assert len(bank) == len(source) == 4521
    for column in [*KEPT, "poutcome", "y"]:
        assert bank[column].tolist() == source[column].tolist(), column
    assert bank["client_id"].is_unique


def test_extract_shape_and_types():
    bank = load_bank_marketing()
    assert bank.columns.tolist() == ["client_id", *KEPT, "poutcome", "y"]
    assert pd.api.types.is_integer_dtype(bank["campaign"])
    assert bank["campaign"].min() >= 1
    assert set(bank["y"]) == {"yes", "no"}
    assert bank["client_id"].iloc[0] == "C00001"


def test_attribution_ships_beside_the_data():
    notice = (ROOT / "funnelkit" / "data" / "README.md").read_text()
    assert "CC BY 4.0" in notice
    assert "Moro" in notice
    assert "bank_marketing_sample.csv" in notice
