"""Every InvalidDataError reason the code raises is a documented member of errors.Reason."""

from __future__ import annotations

import re
from pathlib import Path

import funnelkit
from funnelkit.errors import Reason

ROOT = Path(funnelkit.__file__).parent
DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def _raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes.update(re.findall(r'\breason="([a-z_]+)"', text))
    # the deal reader names two codes in its table of contradictions, not as reason=
    deal_reader = (ROOT / "_deals_validate.py").read_text(encoding="utf-8")
    codes.update(re.findall(r'"(closed_(?:before_created|without_date))"', deal_reader))
    return codes


def test_every_raised_reason_is_a_member_of_reason():
    raised = _raised_codes()
    assert len(raised) > 20  # the scan finds the codes (a broken pattern finds none)
    assert raised <= {r.value for r in Reason}, sorted(raised - {r.value for r in Reason})


def test_every_reason_is_raised_somewhere_and_documented():
    raised = _raised_codes()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    members = {r.value for r in Reason}
    assert members == raised, sorted(members ^ raised)
    assert members <= documented, sorted(members - documented)


def test_a_reason_equals_its_text():
    assert Reason.MIXED_TZ == "mixed_tz"
    assert Reason("missing_deal") is Reason.MISSING_DEAL
