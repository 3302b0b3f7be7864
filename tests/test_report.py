"""The HTML report: `funnelkit.report`, `funnelkit report` and the demo's report."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser

import matplotlib.image as mpimg
import pandas as pd
import pytest

import funnelkit as fk
from funnelkit import _demo, _report
from funnelkit.cli import main
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)

from .conftest import ROOT

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SECTION_NAMES = [
    "Pipeline now",
    "Funnel and drop-off",
    "Cycle length",
    "Win rate and reps",
    "Channels",
    "Touches",
    "Triggers",
    "Stalled and revival lists",
    "Revenue plan",
]
#: The public functions behind each section: when one exists, the section must show
#: on the full sample (all inputs given).
SECTION_FUNCTIONS = {
    "Pipeline now": ["pipeline", "coverage"],
    "Funnel and drop-off": ["conversion", "dropoff", "time_to_convert", "stage_conversion"],
    "Cycle length": ["sales_cycle", "win_curve", "time_in_stage"],
    "Win rate and reps": ["win_rate", "deal_size", "sales_velocity", "leaderboard"],
    "Channels": ["channel_yield"],
    "Touches": ["touches_to_response", "touches_summary"],
    "Triggers": ["triggers"],
    "Stalled and revival lists": ["stalled", "lost_deals", "revival_candidates"],
    "Revenue plan": ["plan"],
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects what a reader sees: text per section, images, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[str] = []
        self.section_images: dict[str, list[str]] = {}
        self.scripts = 0
        self.external: list[str] = []
        self._section: str | None = None
        self._in_h2 = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images.append(a["src"])
            if self._section is not None:
                self.section_images.setdefault(self._section, []).append(a["src"])
        for key in ("src", "href"):
            v = a.get(key)
            if v and re.match(r"(https?:)?//", v):
                self.external.append(v)
        if tag == "h2":
            self._in_h2 = True
            self._text = []

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
            self._section = re.sub(r"^\d+\.\s*", "", "".join(self._text).strip())
            self.sections[self._section] = ""

    def handle_data(self, data):
        if self._in_h2:
            self._text.append(data)
        elif self._section is not None:
            self.sections[self._section] += data


def parse(path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def decode_png(src: str):
    assert src.startswith("data:image/png;base64,")
    raw = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert raw.startswith(PNG_MAGIC)
    return mpimg.imread(io.BytesIO(raw), format="png")


def tiny_deals(stage_name: str = "proposal") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4"],
            "created_at": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-02-01", "2025-02-10"]),
            "closed_at": pd.to_datetime(["2025-02-01", "2025-03-01", None, None]),
            "status": ["won", "lost", "open", "open"],
            "amount": [12_000.0, 8_000.0, 20_000.0, 5_000.0],
            "stage": [stage_name, "demo", stage_name, "demo"],
            "owner": ["Ann", "Bob", "Ann", "Bob"],
            "channel": ["web", SCRIPT, "web", "web"],
            "lost_reason": [None, "price", None, None],
        }
    )


#: A valid 1x1 PNG (what matplotlib writes for a blank 1x1 figure is larger; this is enough).
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@pytest.fixture
def fast_pictures(monkeypatch):
    """Tests about the command line and skipping, not pictures: skip the drawing."""
    monkeypatch.setattr(_report, "render_png", lambda draw: TINY_PNG)


@pytest.fixture(scope="module")
def sample():
    # the full sample runs through the report in tests/test_demo.py; a smaller one here
    return fk.datasets.load_sample(n_leads=1200)


# ----------------------------------------------------------------------------
# the page itself (hand-made sections: independent of which metrics exist)
# ----------------------------------------------------------------------------
def bars(table: pd.DataFrame):
    def draw(ax):
        ax.barh(table["stage"], table["deals"])
        return ax

    return draw


def test_page_escapes_names_embeds_decodable_pngs_and_writes_files(tmp_path):
    table = pd.DataFrame({"stage": [SCRIPT, "won & lost"], "deals": [1_200, 3]})
    results = [
        _report.SectionResult(
            "Pipeline now",
            items=[("Open pipeline " + SCRIPT, table, bars(table)), ("Plain table", table)],
            notes=[f"left out 2 rows because stage is {SCRIPT}"],
        ),
        _report.SectionResult("Touches", skipped=f"touches has no {SCRIPT!r} column"),
    ]
    path = _report.write_report(tmp_path, results, title=f"Report {SCRIPT}")
    text = path.read_text(encoding="utf-8")
    assert SCRIPT not in text
    assert "<script" not in text.lower()
    assert ESCAPED in text
    assert "won &amp; lost" in text
    page = parse(path)
    assert page.scripts == 0
    assert page.external == []
    assert list(page.sections) == ["Pipeline now", "Touches"]
    assert SCRIPT in page.sections["Pipeline now"]  # shown as text
    assert "1,200" in page.sections["Pipeline now"]  # formatted by funnelkit._format
    assert "Skipped:" in page.sections["Touches"]
    assert len(page.images) == 1
    pixels = decode_png(page.images[0])
    assert pixels.shape[0] > 200
    assert pixels.shape[1] > 400
    # the picture is not blank: the bars are drawn in a colour
    assert (pixels[..., :3].std(axis=(0, 1)) > 0.01).any()
    # beside the page: a CSV per table, a PNG per picture, the same bytes as embedded
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 1
    assert base64.b64encode(pngs[0].read_bytes()).decode() == page.images[0].split(",", 1)[1]
    csvs = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert len(csvs) == 2
    back = pd.read_csv(tmp_path / csvs[0])
    assert back["stage"].tolist() == [SCRIPT, "won & lost"]
    assert back["deals"].tolist() == [1_200, 3]


def test_table_of_contents_links_every_section(tmp_path):
    results = [
        _report.SectionResult(name, skipped="not given") if i % 2 else _report.SectionResult(name)
        for i, name in enumerate(SECTION_NAMES)
    ]
    text = _report.write_report(tmp_path, results, title="t").read_text()
    toc = text[text.index('<nav class="toc">') : text.index("</nav>")]
    anchors = re.findall(r'href="#([^"]+)"', toc)
    assert len(anchors) == len(SECTION_NAMES)
    for anchor in anchors:
        assert f'id="{anchor}"' in text
    assert toc.count("skipped") == len(SECTION_NAMES) // 2


def test_long_tables_are_cut_in_the_page_but_not_in_the_csv(tmp_path):
    table = pd.DataFrame({"deal": [f"D{i}" for i in range(60)], "n": range(60)})
    results = [_report.SectionResult("Long", items=[("Many rows", table)])]
    text = _report.write_report(tmp_path, results, title="t").read_text()
    assert "D24" in text
    assert "D25" not in text
    assert "First 25 of 60 rows" in text
    assert len(pd.read_csv(next(tmp_path.glob("*.csv")))) == 60


def test_a_failing_picture_keeps_the_table(tmp_path):
    def broken(ax):
        msg = "no room"
        raise RuntimeError(msg)

    table = pd.DataFrame({"stage": ["a"], "deals": [1]})
    results = [_report.SectionResult("S", items=[("T", table, broken)])]
    text = _report.write_report(tmp_path, results, title="t").read_text()
    assert "picture not drawn: RuntimeError: no room" in text
    assert "<table>" in text


# ----------------------------------------------------------------------------
# report(): sections, skip reasons, wiring to the metric functions
# ----------------------------------------------------------------------------
def test_report_on_the_sample_has_every_section_or_its_skip_reason(sample, tmp_path):
    before = sample.deals.copy()
    path = fk.report(
        sample.deals,
        history=sample.history,
        events=sample.events,
        steps=[*sample.stages[:-1], "won"],
        touches=sample.touches,
        costs=sample.costs,
        stages=list(sample.stages),
        target=1_000_000,
        as_of=sample.as_of,
        out=tmp_path,
    )
    pd.testing.assert_frame_equal(sample.deals, before)
    page = parse(path)
    assert list(page.sections) == SECTION_NAMES
    for name, text in page.sections.items():
        exists = [f for f in SECTION_FUNCTIONS[name] if hasattr(fk, f)]
        if exists:
            assert "Skipped:" not in text, f"{name} skipped although {exists} exist: {text}"
        else:
            assert "Skipped:" in text
            assert "not available in this version" in text
    for src in page.images:
        decode_png(src)


def test_report_skips_sections_whose_inputs_are_missing(tmp_path, fast_pictures):
    path = fk.report(tiny_deals(), out=tmp_path)
    page = parse(path)
    assert list(page.sections) == SECTION_NAMES
    assert "Skipped:" in page.sections["Touches"]
    assert "touch log" in page.sections["Touches"] or "not available" in page.sections["Touches"]
    assert "Skipped:" in page.sections["Revenue plan"]
    assert (
        "target" in page.sections["Revenue plan"]
        or "not available" in (page.sections["Revenue plan"])
    )


def test_optional_columns_skip_parts_not_the_report(tmp_path, fast_pictures):
    deals = tiny_deals()[["deal_id", "created_at", "closed_at", "status"]]
    page = parse(fk.report(deals, out=tmp_path))
    assert list(page.sections) == SECTION_NAMES
    channels = page.sections["Channels"]
    assert "Skipped:" in channels
    assert "'channel'" in channels or "not available" in channels
    if hasattr(fk, "pipeline"):
        assert "no 'stage' or 'amount' columns" in page.sections["Pipeline now"]
    with pytest.raises(ColumnNotFoundError, match=r"'closed_at' \(closed=\) not found in deals"):
        fk.report(deals.drop(columns="closed_at"), out=tmp_path)


def test_report_wires_a_metric_and_its_picture(monkeypatch, tmp_path):
    """A section shows a metric's table and picture as soon as the function exists."""
    seen = {}

    def pipeline(deals, stages=None, *, history=None, as_of=None):
        seen["deals"] = deals
        out = deals[deals["status"] == "open"].groupby("stage", as_index=False)
        return out.agg(deals=("deal_id", "size"), value=("amount", "sum"))

    def plot_pipeline(result, *, ax=None):
        ax.barh(result["stage"], result["value"])
        return ax

    def coverage(deals, target, *, as_of=None):
        msg = "coverage: left out 1 of 4 rows because amount is null."
        warnings.warn(msg, FunnelkitWarning, stacklevel=2)
        return pd.DataFrame({"target": [target], "win_rate": [0.25]})

    monkeypatch.setattr(fk, "pipeline", pipeline, raising=False)
    monkeypatch.setattr(fk, "plot_pipeline", plot_pipeline, raising=False)
    monkeypatch.setattr(fk, "coverage", coverage, raising=False)
    deals = tiny_deals(stage_name=SCRIPT)
    path = fk.report(deals, target=100_000, out=tmp_path)
    text = path.read_text()
    page = parse(path)
    section = page.sections["Pipeline now"]
    assert "Skipped" not in section
    assert SCRIPT in section  # the stage name, as text
    assert SCRIPT not in text
    # open deals: D3 at the script stage (20,000), D4 at demo (5,000)
    assert "20,000" in section
    assert "5,000" in section
    assert "25.0%" in section  # a rate column, formatted as a share
    assert "left out 1 of 4 rows" in section  # the metric's warning becomes a note
    assert len(page.section_images["Pipeline now"]) == 1
    decode_png(page.section_images["Pipeline now"][0])
    # dates were parsed once, up front; the user's table was not touched
    assert pd.api.types.is_datetime64_dtype(seen["deals"]["created_at"])


def test_column_map_renames_without_touching_the_input(monkeypatch, tmp_path, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "Opportunity ID", "status": "Deal Stage"})
    before = deals.copy()
    seen = {}

    def win_rate(d):
        seen["columns"] = list(d.columns)
        return pd.DataFrame({"won": [1], "lost": [1], "rate": [0.5]})

    monkeypatch.setattr(fk, "win_rate", win_rate, raising=False)
    fk.report(deals, column_map={"Opportunity ID": "deal_id", "Deal Stage": "status"}, out=tmp_path)
    pd.testing.assert_frame_equal(deals, before)
    assert "deal_id" in seen["columns"]
    assert "status" in seen["columns"]


def test_progress_lines(capsys, tmp_path, fast_pictures):
    fk.report(tiny_deals(), out=tmp_path, progress=True)
    text = capsys.readouterr().out
    for i, name in enumerate(SECTION_NAMES, start=1):
        assert f"[{i}/9] {name}" in text
    assert "skipped:" in text
    assert "report.html" in text


def test_report_errors():
    deals = tiny_deals()
    with pytest.raises(ColumnNotFoundError, match=r"'deal_id' \(deal=\) not found in deals"):
        fk.report(deals.drop(columns="deal_id"))
    bad = deals.assign(created_at=["2025-01-01", "n/a", "2025-01-03", "2025-01-04"])
    with pytest.raises(InvalidDataError, match=r"deals\['created_at'\] has 1 of 4 rows"):
        fk.report(bad)
    with pytest.raises(InvalidParameterError, match="'steps' parameter of report is required"):
        fk.report(deals, events=pd.DataFrame({"user_id": [], "timestamp": [], "event": []}))
    with pytest.raises(InvalidParameterError, match="'target' parameter of report"):
        fk.report(deals, target=-5)
    with pytest.raises(InvalidParameterError, match="'as_of' parameter of report"):
        fk.report(deals, as_of="someday")
    with pytest.raises(InvalidParameterError, match="'deals' argument of report"):
        fk.report([1, 2])


def test_an_error_inside_a_section_names_the_file(monkeypatch, tmp_path):
    def win_rate(d):
        msg = "deals['closed_at'] has 1 of 4 rows closed before created_at."
        raise InvalidDataError(msg, column="closed_at", reason="closed_before_created")

    monkeypatch.setattr(fk, "win_rate", win_rate, raising=False)
    inp = _report.make_inputs(tiny_deals(), labels={"deals": "deals file 'x.csv'"})
    with pytest.raises(InvalidDataError, match=r"^deals file 'x\.csv': deals\['closed_at'\]"):
        _report.run_sections(inp)


def test_infer_stages_orders_by_typical_entry():
    history = pd.DataFrame(
        {
            "deal_id": [1, 1, 1, 2, 2, 3],
            "stage": ["b", "a", "c", "a", "c", "a"],
            "entered_at": pd.to_datetime(
                ["2025-01-02", "2025-01-01", "2025-01-05", "2025-01-01", "2025-01-03", "2025-01-09"]
            ),
        }
    )
    # deal 1: a, b, c (ranks 1, 2, 3); deal 2: a, c (1, 2); deal 3: a (1)
    # mean rank: a 1, b 2, c 2.5
    assert _report.infer_stages(history) == ["a", "b", "c"]


# ----------------------------------------------------------------------------
# the demo
# ----------------------------------------------------------------------------
def test_demo_sections_may_carry_a_picture(monkeypatch, tmp_path):
    def section(sample):
        table = pd.DataFrame({"stage": ["a", "b"], "deals": [3, 1]})
        return [("Two bars", table, bars(table)), ("Just a table", table)]

    monkeypatch.setattr(_demo, "SECTIONS", [("Test", section)])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _demo.run_demo(tmp_path, report=False)
    assert (tmp_path / "two_bars.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "two_bars.csv").exists()
    assert (tmp_path / "just_a_table.csv").exists()
    assert not (tmp_path / "just_a_table.png").exists()
    assert "1 pictures" in buf.getvalue()


# ----------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    small = fk.datasets.load_sample(n_leads=600)  # the same tables, smaller: a quick run
    folder = tmp_path_factory.mktemp("exports")
    small.deals.to_csv(folder / "deals.csv", index=False)
    if importlib.util.find_spec("pyarrow") is not None:  # Parquet needs pyarrow
        small.history.to_parquet(folder / "history.parquet", index=False)
    else:
        small.history.to_csv(folder / "history.parquet.csv", index=False)
    small.events.to_csv(folder / "events.csv.gz", index=False)
    small.touches.to_csv(folder / "touches.csv", index=False)
    return folder


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "funnelkit", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_cli_report_on_exports(exports, tmp_path, capsys, fast_pictures):
    code = main(
        [
            "report",
            "--deals",
            str(exports / "deals.csv"),
            "--history",
            str(next(exports.glob("history.parquet*"))),
            "--events",
            str(exports / "events.csv.gz"),
            "--steps",
            "lead generation,prospecting,qualification",
            "--touches",
            str(exports / "touches.csv"),
            "--out",
            str(tmp_path),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "Reading deals from" in text
    assert "[1/9] Pipeline now" in text
    page = parse(tmp_path / "report.html")
    assert list(page.sections) == SECTION_NAMES
    assert "deals file" in (tmp_path / "report.html").read_text()
    # no target given: the plan says so (or is not built yet)
    assert "Skipped:" in page.sections["Revenue plan"]


def test_cli_column_map(tmp_path, capsys, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "Opportunity ID"})
    deals.to_csv(tmp_path / "d.csv", index=False)
    args = ["report", "--deals", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "'deal_id' (deal=) not found" in err
    assert "--column-map" in err
    assert main([*args, "--column-map", "Opportunity ID=deal_id"]) == 0
    assert (tmp_path / "r" / "report.html").exists()


def test_cli_bad_file_is_one_line_naming_the_file(tmp_path):
    deals = tiny_deals().drop(columns="created_at")
    deals.to_csv(tmp_path / "deals.csv", index=False)
    out = run_cli("report", "--deals", tmp_path / "deals.csv", "--out", tmp_path / "r")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("funnelkit: error: deals file '")
    assert "deals.csv" in lines[0]
    assert "'created_at' (created=) not found" in lines[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("deals.xlsx", "x", "unsupported type"),
        ("empty.csv", "", "could not be read as CSV"),
        (
            "dates.csv",
            "deal_id,created_at,closed_at,status\nD1,yesterday,2025-01-01,won\n",
            r"has 1 of 1 rows",
        ),
    ],
)
def test_cli_unreadable_files(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["report", "--deals", str(path), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("funnelkit: error:")
    assert name in err
    assert re.search(message, err)
    assert len(err.strip().splitlines()) == 1


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    tiny_deals().to_csv(tmp_path / "d.csv", index=False)
    base = ["report", "--deals", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r")]
    assert main([*base, "--events", str(tmp_path / "d.csv")]) == 2
    assert "--events and --steps go together" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([*base, "--column-map", "no-equals-sign"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["report", "--out", str(tmp_path)])
    assert info.value.code == 2


def test_cli_report_on_a_real_crm_export(shared_data, tmp_path, capsys, fast_pictures):
    """Maven's CRM opportunities, mapped to funnelkit's columns on the command line."""
    path = shared_data / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    column_map = (
        "opportunity_id=deal_id,engage_date=created_at,close_date=closed_at,"
        "close_value=amount,sales_agent=owner,deal_stage=status"
    )
    args = ["report", "--deals", str(path), "--column-map", column_map]
    code = main([*args, "--won", "Won", "--lost", "Lost", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0
    page = parse(tmp_path / "report.html")
    assert list(page.sections) == SECTION_NAMES
    # no channel, no lost reason, no history in this export: said, not failed
    assert "no 'channel' column" in page.sections["Channels"]
    assert "Skipped 7 of 9 sections" in text or "Skipped" in text
    if hasattr(fk, "win_rate"):
        # plain pandas: won / (won + lost) over the closed opportunities
        raw = pd.read_csv(path)
        closed = raw[raw["deal_stage"].isin(["Won", "Lost"])]
        expected = (closed["deal_stage"] == "Won").mean()
        table = pd.read_csv(next(tmp_path.glob("04_win_rate*.csv")))
        assert table["won"].iloc[0] == (raw["deal_stage"] == "Won").sum()
        assert table["rate"].iloc[0] == pytest.approx(expected)
        assert "63.2%" in page.sections["Win rate and reps"]


def test_user_names_are_escaped_through_the_real_metrics(tmp_path):
    """A stage, a rep and a channel called <script>: shown as text, never run."""
    small = fk.datasets.load_sample(n_leads=600)
    rename = {"proposal": SCRIPT}
    deals = small.deals.assign(
        stage=small.deals["stage"].replace(rename),
        owner=small.deals["owner"].replace({"Ana Souza": SCRIPT}),
        channel=small.deals["channel"].replace({"referral": SCRIPT}),
    )
    history = small.history.assign(stage=small.history["stage"].replace(rename))
    stages = [rename.get(s, s) for s in small.stages]
    path = fk.report(deals, history=history, stages=stages, out=tmp_path)
    text = path.read_text(encoding="utf-8")
    assert SCRIPT not in text
    assert "<script" not in text.lower()
    page = parse(path)
    shown = [name for name, body in page.sections.items() if SCRIPT in body]
    if hasattr(fk, "pipeline") and hasattr(fk, "leaderboard"):
        assert {"Pipeline now", "Win rate and reps", "Channels"} <= set(shown)
    for src in page.images:
        decode_png(src)


@pytest.mark.skipif(not hasattr(fk, "conversion"), reason="funnelkit.conversion not merged yet")
def test_steps_may_be_lists_of_events(tmp_path):
    small = fk.datasets.load_sample(n_leads=600)
    steps = ["lead generation", "prospecting", ["qualification", "contact"], "won"]
    inp = _report.make_inputs(small.deals, events=small.events, steps=steps)
    funnel_only = [s for s in _report.SECTIONS if s[0] == "Funnel and drop-off"]
    results = _report.run_sections(inp, sections=funnel_only)
    page = parse(_report.write_report(tmp_path, results, title="t"))
    funnel = page.sections["Funnel and drop-off"]
    assert "Skipped:" not in funnel
    assert "qualification | contact" in funnel
