"""The HTML report: `funnelkit.report`, `funnelkit report` and the demo's report."""

from __future__ import annotations

import base64
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
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit import _report
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
# the page itself (hand-made sections)
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
# report(): every table is the public function's result for the same arguments
# ----------------------------------------------------------------------------
def full_inputs(sample, **kwargs):
    return _report.make_inputs(
        sample.deals,
        history=sample.history,
        events=sample.events,
        steps=[*sample.stages[:-1], "won"],
        touches=sample.touches,
        costs=sample.costs,
        stages=list(sample.stages),
        target=1_000_000,
        as_of=sample.as_of,
        **kwargs,
    )


def tables(results) -> dict[str, pd.DataFrame]:
    return {item[0]: item[1] for res in results for item in res.items}


@pytest.fixture(scope="module")
def full_run(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _report.run_sections(full_inputs(sample))


def expected_tables(s) -> dict[str, pd.DataFrame]:
    """Each table of the report, computed here by calling the public function directly.

    One funnel: retention is entered only by won deals (after the sale), so every stage
    table runs on the stages before it and the history of those stages.
    """
    assert s.stages[-1] == "retention"
    stages, as_of = list(s.stages[:-1]), s.as_of
    history = s.history[s.history["stage"] != "retention"]
    steps = [*stages, "won"]
    quarter = "closing 2025-06-30 to 2025-09-30 (to the end of Q3 2025)"
    return {
        "Open pipeline by stage": fk.pipeline(s.deals, stages=stages, history=history, as_of=as_of),
        f"Coverage of the target, {quarter}": fk.coverage(
            s.deals, 1_000_000, as_of=as_of, period_end="2025-10-01"
        ),
        "Conversion through the funnel": fk.conversion(s.events, steps, as_of=as_of),
        "Where leads drop off": fk.dropoff(s.events, steps, as_of=as_of),
        "Time to convert, by channel": fk.time_to_convert(
            s.events, steps, by="channel", as_of=as_of
        ),
        "Stage-to-stage conversion": fk.stage_conversion(history, stages, deals=s.deals),
        "Sales cycle (created to won)": fk.sales_cycle(s.deals, as_of=as_of),
        "Sales cycle by channel": fk.sales_cycle(s.deals, by="channel", as_of=as_of),
        "Time in stage": fk.time_in_stage(history, stages, as_of=as_of, deals=s.deals),
        "Win rate of closed deals": fk.win_rate(s.deals, as_of=as_of),
        "Win rate by channel": fk.win_rate(s.deals, by="channel", as_of=as_of),
        "Size of won deals": fk.deal_size(s.deals, as_of=as_of),
        "Sales velocity": fk.sales_velocity(s.deals, as_of=as_of),
        "Rep leaderboard": fk.leaderboard(s.deals, as_of=as_of),
        "Channel yield": fk.channel_yield(s.deals, costs=s.costs, as_of=as_of),
        "Response by touch number": fk.touches_to_response(s.touches),
        "Touches summary": fk.touches_summary(s.touches),
        "Stalled open deals": fk.stalled(history, stages, deals=s.deals, as_of=as_of),
        "Lost deals by stage and reason": fk.lost_deals(s.deals, history=history, stages=stages),
        "Lost deals worth reviving": fk.revival_candidates(
            s.deals, history=history, stages=stages, as_of=as_of
        ),
        f"Plan for a target of 1,000,000, {quarter}": fk.plan(
            s.deals,
            1_000_000,
            history=history,
            stages=stages,
            as_of=as_of,
            period_end="2025-10-01",
        ),
    }


def test_every_section_shows_on_the_full_sample(full_run):
    assert [r.name for r in full_run] == SECTION_NAMES
    for res in full_run:
        assert res.skipped is None, f"{res.name} skipped: {res.skipped}"
        assert not [n for n in res.notes if n.startswith("not shown")], res.notes


def test_report_tables_equal_the_public_functions(sample, full_run):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        expected = expected_tables(sample)
    got = tables(full_run)
    for title, table in expected.items():
        assert title in got, f"{title!r} not in the report: {sorted(got)}"
        pd.testing.assert_frame_equal(got[title], table, obj=title)


def test_triggers_tables_equal_the_public_function(sample, full_run):
    steps = [*sample.stages[:-1], "won"]
    got = {t: df for t, df in tables(full_run).items() if t.startswith("Behaviours between")}
    assert got
    candidates = _report.behaviours(sample.events, steps)
    for at_step in range(1, len(steps)):
        title = f"Behaviours between {steps[at_step - 1]} and {steps[at_step]}"
        if title not in got:
            continue
        res = fk.triggers(
            sample.events, steps, at_step=at_step, candidates=candidates, as_of=sample.as_of
        )
        res = res[res["entities_with"] > 0].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[title], res)


def test_time_in_stage_ends_a_lost_deals_stay_at_its_close(sample, full_run):
    """Without the deals, lost deals would sit in their last stage until as_of."""
    table = tables(full_run)["Time in stage"].set_index("stage")
    without = fk.time_in_stage(sample.history, list(sample.stages), as_of=sample.as_of)
    without = without.set_index("stage")
    stage = "negotiation and close"
    # open stays: only the deals still open at as_of whose current stage it is
    deals, hist = sample.deals, sample.history
    open_ids = set(deals.loc[deals["status"] == "open", "deal_id"])
    last = hist.sort_values("entered_at").groupby("deal_id")["stage"].last()
    expected_open = sum(1 for d, st in last.items() if st == stage and d in open_ids)
    assert table.loc[stage, "open"] == expected_open
    assert without.loc[stage, "open"] > expected_open
    assert table.loc[stage, "median"] < without.loc[stage, "median"]


def test_win_curve_milestones_count_wins_and_losses_by_t(sample, full_run):
    table = tables(full_run)["Chance of winning within t days"]
    assert table["t"].dt.days.tolist() == list(_report.MILESTONE_DAYS)
    deals = sample.deals
    age = deals["closed_at"] - deals["created_at"]
    for _, row in table.iterrows():
        # plain pandas: deals won (lost) within t of their creation, closed by as_of
        within = (age <= row["t"]) & (deals["closed_at"] <= sample.as_of)
        assert row["won"] == (within & (deals["status"] == "won")).sum()
        assert row["lost"] == (within & (deals["status"] == "lost")).sum()
    assert table["won"].is_monotonic_increasing
    assert table["lost"].is_monotonic_increasing
    curve = fk.win_curve(deals, as_of=sample.as_of)
    last = curve[curve["t"] <= pd.Timedelta(days=90)].iloc[-1]
    assert (
        table.loc[table["t"] == pd.Timedelta(days=90), "cumulative_win"].item()
        == last["cumulative_win"]
    )


def test_the_plan_period_is_a_full_quarter_and_named(sample, tmp_path, fast_pictures):
    text = fk.report(
        sample.deals,
        history=sample.history,
        stages=list(sample.stages),
        target=1_000_000,
        out=tmp_path,
    ).read_text()
    # the sample's last observation is late on 2025-06-29, a day before the quarter ends:
    # the plan runs to the end of Q3, not for the one day left of Q2
    assert "Plan for a target of 1,000,000, closing 2025-06-29 to 2025-09-30" in text
    assert "to the end of Q3 2025" in text


@pytest.mark.parametrize(
    ("as_of", "end"),
    [
        ("2025-06-30", "2025-10-01"),
        ("2025-06-30 18:00", "2025-10-01"),
        ("2025-07-01", "2025-10-01"),
        ("2025-07-02", "2026-01-01"),
        ("2025-12-31", "2026-04-01"),
        ("2025-02-14", "2025-07-01"),
    ],
)
def test_default_period_holds_a_full_quarter(as_of, end):
    got = _report.default_period_end(pd.Timestamp(as_of))
    assert got == pd.Timestamp(end)
    # hand check: some calendar quarter lies wholly inside [as_of's day, end)
    starts = pd.date_range("2024-01-01", "2027-01-01", freq="QS")
    day = pd.Timestamp(as_of).normalize()
    full = [q for q in starts if q >= day and q + pd.offsets.QuarterBegin(1) <= got]
    assert len(full) == 1


def test_period_end_is_passed_to_plan_and_coverage(sample, fast_pictures):
    inp = full_inputs(sample, period_end="2025-12-01")
    plan_only = [s for s in _report.SECTIONS if s.name in ("Pipeline now", "Revenue plan")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        got = tables(_report.run_sections(inp, sections=plan_only))
        title = "Plan for a target of 1,000,000, closing 2025-06-30 to 2025-11-30"
        expected = fk.plan(
            sample.deals,
            1_000_000,
            history=sample.history,
            stages=list(sample.stages[:-1]),
            as_of=sample.as_of,
            period_end="2025-12-01",
        )
        cover = fk.coverage(sample.deals, 1_000_000, as_of=sample.as_of, period_end="2025-12-01")
    pd.testing.assert_frame_equal(got[title], expected)
    pd.testing.assert_frame_equal(
        got["Coverage of the target, closing 2025-06-30 to 2025-11-30"], cover
    )
    with pytest.raises(InvalidParameterError, match="'period_end' parameter of report"):
        full_inputs(sample, period_end="2025-06-01")


def test_a_plan_whose_entry_dates_are_all_past_says_so(sample):
    inp = full_inputs(sample, period_end="2025-07-02")  # one day: nothing can still close
    plan_only = [s for s in _report.SECTIONS if s.name == "Revenue plan"]
    (res,) = _report.run_sections(inp, sections=plan_only)
    assert res.skipped is None
    table = res.items[0][1]
    assert (table["time_left"].iloc[:-1] < pd.Timedelta(0)).all()  # the last row is won
    assert any("Every enter_by date of the plan is already past" in n for n in res.notes)
    # a full quarter: some stages can still be entered in time, no such note
    (res,) = _report.run_sections(full_inputs(sample), sections=plan_only)
    assert not any("already past" in n for n in res.notes)


def test_no_won_deal_yet_skips_the_plan_with_its_reason_and_writes_the_rest(
    tmp_path, fast_pictures
):
    deals = tiny_deals().assign(status=["lost", "lost", "open", "open"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        path = fk.report(deals, target=100_000, out=tmp_path)
    page = parse(path)
    assert list(page.sections) == SECTION_NAMES
    plan = page.sections["Revenue plan"]
    assert "Skipped:" in plan
    assert "measured from won deals" in plan
    assert "no deal with status == 'won' by 2025-03-01" in plan
    # the rest is written: the pipeline and the win rate (0 of 2) are there
    assert "Skipped:" not in page.sections["Pipeline now"]
    win = page.sections["Win rate and reps"]
    assert "Skipped:" not in win
    assert "not shown: the size of won deals is measured from won deals" in win
    # plain fk.plan on the same deals raises: the section turned that into a reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)  # "no won='won' value"
        with pytest.raises(InvalidDataError, match="0 won"):
            fk.plan(deals, 100_000)


def test_report_skips_parts_whose_inputs_are_missing(tmp_path, fast_pictures):
    page = parse(fk.report(tiny_deals(), out=tmp_path))
    assert list(page.sections) == SECTION_NAMES
    assert "needs a touch log" in page.sections["Touches"]
    assert "revenue plan needs a revenue target" in page.sections["Revenue plan"]
    assert "needs an event log and its steps" in page.sections["Triggers"]


def test_optional_columns_skip_parts_not_the_report(tmp_path, fast_pictures):
    deals = tiny_deals()[["deal_id", "created_at", "closed_at", "status"]]
    page = parse(fk.report(deals, out=tmp_path))
    assert list(page.sections) == SECTION_NAMES
    assert "has no 'channel' (channel=) or 'amount' (amount=) columns" in page.sections["Channels"]
    assert "has no 'stage' (stage=) or 'amount' (amount=) columns" in page.sections["Pipeline now"]
    assert "Skipped:" not in page.sections["Cycle length"]
    with pytest.raises(ColumnNotFoundError, match=r"'closed_at' \(closed=\) not found in deals"):
        fk.report(deals.drop(columns="closed_at"), out=tmp_path)


def test_columns_serve_every_function_and_the_frames_stay_as_given(sample):
    """Renamed columns and status values: the same tables, the user's frames untouched."""
    deal_names = {
        "deal_id": "Opportunity",
        "created_at": "Created",
        "closed_at": "Closed",
        "amount": "Value",
        "owner": "Rep",
    }
    deals = sample.deals.rename(columns=deal_names)
    deals["status"] = deals["status"].map({"won": "Won", "lost": "Lost", "open": "Open"})
    history = sample.history.rename(columns={"deal_id": "Opportunity", "entered_at": "Entered"})
    events = sample.events.rename(columns={"user_id": "lead", "timestamp": "at"})
    touches = sample.touches.rename(columns={"user_id": "lead", "timestamp": "at"})
    columns = {
        "deal": "Opportunity",
        "created": "Created",
        "closed": "Closed",
        "amount": "Value",
        "owner": "Rep",
        "won": "Won",
        "lost": "Lost",
        "entered": "Entered",
        "entity": "lead",
        "time": "at",
    }
    before = [df.copy() for df in (deals, history, events, touches)]
    inp = _report.make_inputs(
        deals,
        history=history,
        events=events,
        steps=[*sample.stages[:-1], "won"],
        touches=touches,
        costs=sample.costs,
        stages=list(sample.stages),
        target=1_000_000,
        as_of=sample.as_of,
        columns=columns,
    )
    assert inp.deals is deals  # not renamed, not copied
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        got = tables(_report.run_sections(inp))
    for df, old in zip((deals, history, events, touches), before, strict=True):
        pd.testing.assert_frame_equal(df, old)
    # the same numbers as on the default names; id and date columns named after the input
    default = tables(_report.run_sections(full_inputs(sample)))
    assert set(got) == set(default)
    for title, table in default.items():
        back = got[title].rename(columns={v: k for k, v in deal_names.items()})
        back = back.rename(columns={"Entered": "entered_at", "lead": "user_id", "at": "timestamp"})
        # (renaming gives the columns index pandas' default string dtype: not compared)
        pd.testing.assert_frame_equal(back, table, obj=title, check_column_type=False)
    # and what the public functions give with the same columns, called directly
    leader = fk.leaderboard(
        deals,
        as_of=sample.as_of,
        deal="Opportunity",
        created="Created",
        closed="Closed",
        won="Won",
        lost="Lost",
        amount="Value",
        owner="Rep",
    )
    pd.testing.assert_frame_equal(got["Rep leaderboard"], leader)


def test_a_column_may_serve_two_roles(tmp_path, fast_pictures):
    """Maven-style: one column is both the status (Won/Lost) and the stage of open deals."""
    deals = tiny_deals().drop(columns="stage")
    deals["deal_stage"] = ["Won", "Lost", "Engaging", "Prospecting"]
    deals = deals.drop(columns="status")
    columns = {"status": "deal_stage", "stage": "deal_stage", "won": "Won", "lost": "Lost"}
    inp = _report.make_inputs(deals, columns=columns)
    pipeline_only = [s for s in _report.SECTIONS if s.name == "Pipeline now"]
    got = tables(_report.run_sections(inp, sections=pipeline_only))
    table = got["Open pipeline by stage"]
    expected = fk.pipeline(
        deals, as_of=inp.as_of, status="deal_stage", stage="deal_stage", won="Won", lost="Lost"
    )
    pd.testing.assert_frame_equal(table, expected)
    # plain pandas: the open deals at each stage and their value
    by_stage = table.set_index("stage")
    assert by_stage.loc["Engaging", "open"] == 1
    assert by_stage.loc["Prospecting", "open"] == 1


def test_column_map_is_deprecated_but_still_maps(tmp_path, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "Opportunity ID", "status": "Deal Stage"})
    before = deals.copy()
    with pytest.warns(FutureWarning, match="pass columns="):
        path = fk.report(
            deals, column_map={"Opportunity ID": "deal_id", "Deal Stage": "status"}, out=tmp_path
        )
    pd.testing.assert_frame_equal(deals, before)
    assert "Skipped:" not in parse(path).sections["Win rate and reps"]
    assert _report.columns_from_column_map({"Opportunity ID": "deal_id"}) == {
        "deal": "Opportunity ID"
    }
    with pytest.raises(InvalidParameterError, match="not a column funnelkit reads"):
        _report.columns_from_column_map({"x": "industry"})


def test_unknown_roles_are_a_clear_error():
    with pytest.raises(InvalidParameterError, match=r"unknown role 'entered_at'.*'entered'"):
        fk.report(tiny_deals(), columns={"entered_at": "x"})
    with pytest.raises(InvalidParameterError, match=r"Got 3 for 'deal'"):
        fk.report(tiny_deals(), columns={"deal": 3})


def test_progress_lines(capsys, tmp_path, fast_pictures):
    fk.report(tiny_deals(), out=tmp_path, progress=True)
    text = capsys.readouterr().out
    for i, name in enumerate(SECTION_NAMES, start=1):
        assert f"[{i}/9] {name}" in text
    assert "skipped:" in text
    assert "report.html" in text


def test_report_errors():
    deals = tiny_deals()
    with pytest.raises(
        ColumnNotFoundError,
        match=r"'deal_id' \(deal=\) not found in deals.*",
    ):
        fk.report(deals.drop(columns="deal_id"))
    with pytest.raises(ColumnNotFoundError, match=r"Hint: pass columns=\{'deal': 'deal'\}"):
        fk.report(deals.rename(columns={"deal_id": "deal"}))
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


def test_an_error_inside_a_section_names_the_file():
    deals = tiny_deals().assign(amount=[1.0, -5.0, 2.0, 3.0])
    inp = _report.make_inputs(deals, labels={"deals": "deals file 'x.csv'"})
    with pytest.raises(InvalidDataError, match=r"^deals file 'x\.csv': .*amount"):
        _report.run_sections(inp)


def test_as_of_defaults_to_the_latest_observation():
    deals = tiny_deals()  # latest: created 2025-02-10, closed 2025-03-01
    assert _report.make_inputs(deals).as_of == pd.Timestamp("2025-03-01")
    # an open deal's close date is only expected: not an observation
    later = deals.assign(closed_at=deals["closed_at"].fillna(pd.Timestamp("2025-09-01")))
    assert _report.make_inputs(later).as_of == pd.Timestamp("2025-03-01")


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


def test_no_function_is_looked_up_by_name():
    """The report, the demo and the tools import what they call: nothing hidden."""
    pattern = re.compile(r"(getattr|hasattr)\((funnelkit|fk)\b|_Missing|not available in this")
    files = [
        ROOT / "funnelkit" / "_report.py",
        ROOT / "funnelkit" / "_demo.py",
        ROOT / "funnelkit" / "cli.py",
        *sorted((ROOT / "tools").glob("*.py")),
        ROOT / "tests" / "test_report.py",
        ROOT / "tests" / "test_doc_examples.py",
        ROOT / "tests" / "test_notebooks.py",
        ROOT / "tests" / "test_docs.py",
    ]
    offenders = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.name == "test_report.py":
            text = text.replace(pattern.pattern, "")
        offenders += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not offenders


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
            "--target",
            "500000",
            "--period-end",
            "2025-12-01",
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
    assert "closing 2025-06-29 to 2025-11-30" in page.sections["Revenue plan"]
    # the CSV of the win rate is the function's result on the same file
    table = pd.read_csv(next(tmp_path.glob("04_win_rate_of_closed_deals.csv")))
    expected = fk.win_rate(pd.read_csv(exports / "deals.csv"))
    assert table["won"].tolist() == expected["won"].tolist()
    assert table["win_rate"].tolist() == pytest.approx(expected["win_rate"].tolist())


def test_cli_columns(tmp_path, capsys, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "Deal ID", "created_at": "created"})
    deals.to_csv(tmp_path / "d.csv", index=False)
    args = ["report", "--deals", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "'deal_id' (deal=) not found" in err
    assert main([*args, "--columns", "deal=Deal ID"]) == 1
    err = capsys.readouterr().err
    assert "'created_at' (created=) not found" in err
    assert "Hint: pass --columns created=created." in err
    assert main([*args, "--columns", "deal=Deal ID,created=created"]) == 0
    assert (tmp_path / "r" / "report.html").exists()


def test_cli_column_map_still_works_with_a_future_warning(tmp_path, capsys, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "Opportunity ID"})
    deals.to_csv(tmp_path / "d.csv", index=False)
    args = ["report", "--deals", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r")]
    with pytest.warns(FutureWarning, match="use --columns ROLE=COLUMN"):
        assert main([*args, "--column-map", "Opportunity ID=deal_id"]) == 0
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("command", ["report", "plan"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("deal", r"expected ROLE=COLUMN pairs separated by commas.*got 'deal'"),
        ("deal=", r"expected ROLE=COLUMN pairs.*got 'deal='"),
        ("=id", r"expected ROLE=COLUMN pairs"),
        ("dael=id", r"unknown role 'dael' \(did you mean 'deal'\?\); roles: entity, time"),
        ("user=id", r"unknown role 'user'.*roles: entity"),
        ("deal=a,deal=b", r"role 'deal' is given twice"),
    ],
)
def test_cli_columns_parsing_errors_are_clear(tmp_path, capsys, command, value, message):
    extra = ["--target", "1"] if command == "plan" else []
    argv = [command, "--deals", str(tmp_path / "d.csv"), *extra, "--columns", value]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: funnelkit {command}" in err
    assert re.search(message, err), err


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
        # not a workbook (or, without openpyxl, how to read one): one line either way
        ("deals.xlsx", "x", "cannot read .*not a zip file.*an .xlsx file|needs openpyxl"),
        ("deals.pdf", "x", "unsupported type"),
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
    """Maven's CRM opportunities: deal_stage is both the status and the stage."""
    path = shared_data / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    columns = (
        "deal=opportunity_id,created=engage_date,closed=close_date,amount=close_value,"
        "owner=sales_agent,status=deal_stage,stage=deal_stage,won=Won,lost=Lost"
    )
    args = ["report", "--deals", str(path), "--columns", columns, "--target", "2000000"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        code = main([*args, "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0
    page = parse(tmp_path / "report.html")
    assert list(page.sections) == SECTION_NAMES
    # no channel, no lost reason, no history in this export: said, not failed
    assert "no 'channel' (channel=) column" in page.sections["Channels"]
    assert "Skipped 5 of 9 sections" in text
    raw = pd.read_csv(path)
    before = raw.copy()
    # plain pandas: won / (won + lost) over the closed opportunities (63.2%)
    closed = raw[raw["deal_stage"].isin(["Won", "Lost"])]
    table = pd.read_csv(next(tmp_path.glob("04_win_rate_of_closed_deals.csv")))
    assert table["won"].iloc[0] == (raw["deal_stage"] == "Won").sum()
    assert table["win_rate"].iloc[0] == pytest.approx((closed["deal_stage"] == "Won").mean())
    assert "63.2%" in page.sections["Win rate and reps"]
    # the open pipeline per stage: the open deals' deal_stage, counted by plain pandas
    pipe = pd.read_csv(next(tmp_path.glob("01_open_pipeline_by_stage.csv")))
    open_deals = raw[~raw["deal_stage"].isin(["Won", "Lost"])]
    counts = open_deals["deal_stage"].value_counts()
    assert dict(zip(pipe["stage"], pipe["open"], strict=True)) == counts.to_dict()
    pd.testing.assert_frame_equal(raw, before)
    assert "Skipped:" not in page.sections["Revenue plan"]


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
    assert {"Pipeline now", "Win rate and reps", "Channels"} <= set(shown)
    for src in page.images:
        decode_png(src)


def test_steps_may_be_lists_of_events(tmp_path):
    small = fk.datasets.load_sample(n_leads=600)
    steps = ["lead generation", "prospecting", ["qualification", "contact"], "won"]
    inp = _report.make_inputs(small.deals, events=small.events, steps=steps)
    funnel_only = [s for s in _report.SECTIONS if s.name == "Funnel and drop-off"]
    results = _report.run_sections(inp, sections=funnel_only)
    page = parse(_report.write_report(tmp_path, results, title="t"))
    funnel = page.sections["Funnel and drop-off"]
    assert "Skipped:" not in funnel
    assert "qualification | contact" in funnel


def open_deal_with_a_close_date() -> pd.DataFrame:
    """Deals where an open deal has a close date: win_rate warns (a FunnelkitWarning)."""
    deals = tiny_deals()
    deals.loc[2, "closed_at"] = pd.Timestamp("2025-03-01")
    return deals


def test_only_funnelkit_warnings_become_notes():
    deals = open_deal_with_a_close_date()
    with pytest.warns(FunnelkitWarning, match="open deals have a date") as direct:
        fk.win_rate(deals)
    expected = str(direct[0].message)

    def part(inp):
        fk.win_rate(inp.deals)  # warns through funnelkit's own code
        warnings.warn("old spelling", FutureWarning, stacklevel=1)
        return [("T", pd.DataFrame({"a": [1]}))]

    inp = _report.make_inputs(deals)
    with pytest.warns(FutureWarning, match="old spelling"):
        (res,) = _report.run_sections(inp, sections=[_report.Section("S", (part,))])
    assert res.notes == [expected]
    # outside a report the function warns as before (the note went to this call only)
    with pytest.warns(FunnelkitWarning, match="open deals have a date"):
        fk.win_rate(deals)


def test_the_report_knows_every_role_of_the_schema():
    from funnelkit.columns import ROLES

    assert set(_report.ROLE_DEFAULTS) == set(ROLES)


def test_columns_may_be_an_fk_columns_value(tmp_path, fast_pictures):
    deals = tiny_deals().rename(columns={"deal_id": "id", "status": "state"})
    deals["state"] = deals["state"].str.title()
    cols = fk.Columns(deal="id", status="state", won="Won", lost="Lost")
    inp = _report.make_inputs(deals, columns=cols)
    assert inp.col("deal") == "id"
    assert inp.col("created") == "created_at"  # a role not set takes the default
    got = tables(_report.run_sections(inp, sections=[_report.SECTIONS[3]]))
    expected = fk.win_rate(deals, as_of=inp.as_of, columns=cols)
    pd.testing.assert_frame_equal(got["Win rate of closed deals"], expected)
    assert expected["won"].item() == 1


def test_time_zone_aware_dates(tmp_path, fast_pictures):
    deals = tiny_deals()
    for col in ("created_at", "closed_at"):
        deals[col] = deals[col].dt.tz_localize("Europe/Berlin")
    deals["status"] = ["won", "lost", "open", "open"]
    inp = _report.make_inputs(deals, target=50_000)
    assert inp.as_of == pd.Timestamp("2025-03-01", tz="Europe/Berlin")
    assert inp.period_end == pd.Timestamp("2025-07-01", tz="Europe/Berlin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        page = parse(fk.report(deals, target=50_000, out=tmp_path))
    assert (
        "closing 2025-03-01 to 2025-06-30 (to the end of Q2 2025)" in page.sections["Revenue plan"]
    )


@settings(max_examples=100, deadline=None)
@given(
    days=st.lists(st.integers(0, 900), min_size=1, max_size=30),
    data=st.data(),
)
def test_milestones_are_cumulative_counts_property(days, data):
    t = sorted(set(days))
    won = data.draw(st.lists(st.integers(0, 3), min_size=len(t), max_size=len(t)))
    lost = data.draw(st.lists(st.integers(0, 3), min_size=len(t), max_size=len(t)))
    curve = pd.DataFrame(
        {
            "t": pd.to_timedelta(t, unit="D"),
            "at_risk": 100,
            "won": won,
            "lost": lost,
            "cumulative_win": [i / 100 for i in range(len(t))],
        }
    )
    table = _report.at_milestones(curve)
    for _, row in table.iterrows():
        within = [i for i, d in enumerate(t) if d <= row["t"].days]  # slow and obvious
        assert row["won"] == sum(won[i] for i in within)
        assert row["lost"] == sum(lost[i] for i in within)
        assert row["cumulative_win"] == (within[-1] / 100 if within else 0.0)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=pd.Timestamp("2000-01-01"), max_value=pd.Timestamp("2090-01-01")))
def test_default_period_property(as_of):
    as_of = pd.Timestamp(as_of)
    end = _report.default_period_end(as_of)
    # the shortest span from as_of's day to a quarter start that holds a whole quarter
    day = as_of.normalize()
    starts = pd.date_range(day - pd.Timedelta(days=400), day + pd.Timedelta(days=400), freq="QS")
    first_full = min(q for q in starts if q >= day)
    assert end == first_full + pd.offsets.QuarterBegin(1, startingMonth=1)
    assert pd.Timedelta(days=89) <= end - day <= pd.Timedelta(days=184)


def test_a_sales_data_fills_the_tables_it_holds(tmp_path, fast_pictures):
    """fk.report(data) with what fk.crm.read_<crm> returns: the same files as the tables."""
    small = fk.datasets.load_sample(n_leads=600)
    from_data = fk.report(small, target=500_000, out=tmp_path / "data")
    given = fk.report(
        small.deals,
        history=small.history,
        stages=list(small.stages),
        touches=small.touches,
        costs=small.costs,
        as_of=small.as_of,
        target=500_000,
        out=tmp_path / "tables",
    )
    names = sorted(p.name for p in from_data.parent.glob("*.csv"))
    assert names == sorted(p.name for p in given.parent.glob("*.csv"))
    assert len(names) > 5
    for name in names:
        pd.testing.assert_frame_equal(
            pd.read_csv(from_data.parent / name), pd.read_csv(given.parent / name), obj=name
        )


# ----------------------------------------------------------------------------
# files: overwrite refusal, one file per table, distinct names, spreadsheets
# ----------------------------------------------------------------------------
def one_table_results(title: str = "Plain table") -> list:
    table = pd.DataFrame({"stage": ["a", "b"], "deals": [1, 2]})
    return [_report.SectionResult("S", items=[(title, table)])]


def test_files_the_report_did_not_write_are_not_replaced(tmp_path):
    (tmp_path / "report.html").write_text("my own page", encoding="utf-8")
    (tmp_path / "01_plain_table.csv").write_text("mine", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match=r"overwrite=True.*--force") as err:
        _report.write_report(tmp_path, one_table_results(), title="t")
    assert "'report.html'" in str(err.value)
    assert "'01_plain_table.csv'" in str(err.value)
    assert "2 files" in str(err.value)
    # refused before anything was written
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "my own page"
    assert (tmp_path / "01_plain_table.csv").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_plain_table.csv", "report.html"]
    _report.write_report(tmp_path, one_table_results(), title="t", overwrite=True)
    assert "my own page" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_fk_report_refuses_before_computing_and_force_replaces(tmp_path, fast_pictures):
    (tmp_path / "report.html").write_text("my own page", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match=r"report\.html.*overwrite=True"):
        fk.report(tiny_deals(), out=tmp_path)
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "my own page"
    fk.report(tiny_deals(), out=tmp_path, overwrite=True)
    assert "Pipeline now" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_rerun_replaces_its_own_files_keeps_others_and_removes_its_stale_ones(tmp_path):
    _report.write_report(tmp_path, one_table_results("First title"), title="t")
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    assert (tmp_path / "01_first_title.csv").exists()
    _report.write_report(tmp_path, one_table_results("Second title"), title="t")  # no error
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".funnelkit-report", "01_second_title.csv", "notes.txt", "report.html"]
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"
    listed = (tmp_path / ".funnelkit-report").read_text(encoding="utf-8").splitlines()
    assert [n for n in listed if not n.startswith("#")] == ["01_second_title.csv", "report.html"]


@pytest.mark.parametrize("out", ["", "   "])
def test_an_empty_out_is_refused(out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        InvalidParameterError, match=r"'out' parameter of report must name a folder"
    ):
        fk.report(tiny_deals(), out=out)
    assert list(tmp_path.iterdir()) == []


def test_an_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "report"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match=r"is a file"):
        fk.report(tiny_deals(), out=target)


def test_cli_report_force(tmp_path, capsys, fast_pictures):
    deals = tmp_path / "deals.csv"
    tiny_deals().to_csv(deals, index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("mine", encoding="utf-8")
    argv = ["report", "--deals", str(deals), "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "report.html").read_text(encoding="utf-8") == "mine"
    assert main([*argv, "--force"]) == 0
    assert "Pipeline now" in (out / "report.html").read_text(encoding="utf-8")
    assert main(argv) == 0  # its own files now: a re-run needs no --force


def test_non_ascii_titles_give_distinct_file_names(tmp_path):
    table = pd.DataFrame({"behaviour": ["x"], "n": [1]})
    titles = [
        "Behaviours between Лид and Квалификация",
        "Behaviours between Квалификация and Сделка",
        "Behaviours between Σ and Ω",
        "A/B",
        "A B",  # the same slug as "A/B": both kept
    ]
    results = [_report.SectionResult("Triggers", items=[(t, table) for t in titles])]
    _report.write_report(tmp_path, results, title="t")
    csvs = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert len(csvs) == len(titles)
    assert "01_behaviours_between_лид_and_квалификация.csv" in csvs
    assert "01_behaviours_between_σ_and_ω.csv" in csvs
    assert {"01_a_b.csv", "01_a_b_2.csv"} <= set(csvs)


def test_cyrillic_steps_write_one_file_per_triggers_table(tmp_path, fast_pictures):
    s = fk.datasets.load_sample(n_leads=1200)
    names = dict(
        zip(
            s.stages, ["Лид", "Контакт", "Квалификация", "Звонок", "КП", "Сделка", "Р"], strict=True
        )
    )
    events = s.events.assign(event=s.events["event"].map(lambda e: names.get(e, e)))
    steps = [*[names[st] for st in s.stages[:-1]], "won"]
    fk.report(s.deals, events=events, steps=steps, out=tmp_path, as_of=s.as_of)
    triggers = sorted(p.name for p in tmp_path.glob("07_*.csv"))
    titles = re.findall(
        r"<h3>(Behaviours between [^<]+)</h3>", (tmp_path / "report.html").read_text()
    )
    assert len(triggers) == len(titles) >= 2
    assert all(re.search("[а-я]", name) for name in triggers)


def test_each_table_is_written_once(tmp_path, fast_pictures):
    s = fk.datasets.load_sample(n_leads=1200)
    inp = full_inputs(s)
    results = _report.run_sections(inp)
    _report.write_report(tmp_path, results, title="t")
    n_items = sum(len(r.items) for r in results)
    csvs = list(tmp_path.glob("*.csv"))
    assert len(csvs) == n_items
    contents = [p.read_bytes() for p in csvs]
    assert len(set(contents)) == len(contents)  # no table twice under two names


def test_csv_cells_are_neutralised_against_formulas(tmp_path, fast_pictures):
    deals = tiny_deals()
    deals["channel"] = ['=HYPERLINK("http://x")', "@SUM(A1)", '=HYPERLINK("http://x")', "web"]
    fk.report(deals, out=tmp_path)
    back = pd.read_csv(tmp_path / "04_win_rate_by_channel.csv")
    assert sorted(back["channel"]) == sorted(['\'=HYPERLINK("http://x")', "'@SUM(A1)", "web"])
    assert back["won"].dtype.kind == "i"  # numbers stay numbers
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://x&quot;)" in page  # the page shows the name as it is


def test_csv_durations_are_days_and_dates_iso(tmp_path, fast_pictures):
    fk.report(tiny_deals(), out=tmp_path)
    back = pd.read_csv(tmp_path / "03_sales_cycle_created_to_won.csv")
    assert "median_days" in back.columns
    assert "median" not in back.columns
    # the one won deal: created 2025-01-02, won 2025-02-01
    assert back["naive_median_days"].iloc[0] == pytest.approx(30.0)


# ----------------------------------------------------------------------------
# notes: per call, thread-safe
# ----------------------------------------------------------------------------
def deals_with_open_close_dates(n: int) -> pd.DataFrame:
    """Deals of which ``n`` open ones carry a close date (each function warns, naming n)."""
    rows = 6
    deals = pd.DataFrame(
        {
            "deal_id": [f"D{i}" for i in range(rows)],
            "created_at": pd.date_range("2025-01-01", periods=rows, freq="D"),
            "closed_at": pd.date_range("2025-02-01", periods=rows, freq="D"),
            "status": ["won", "lost"] + ["open"] * (rows - 2),
            "amount": [1000.0] * rows,
        }
    )
    deals.loc[2 + n :, "closed_at"] = pd.NaT  # the other open deals have no date
    return deals


def notes_of(path) -> list[str]:
    return re.findall(r"<li>([^<]*open deals have a date[^<]*)</li>", path.read_text())


def test_two_reports_in_two_threads_keep_their_own_notes(tmp_path, fast_pictures):
    import threading

    barrier = threading.Barrier(2)
    paths: dict[tuple[int, int], object] = {}
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            for k in range(3):
                paths[(n, k)] = fk.report(deals_with_open_close_dates(n), out=tmp_path / f"{n}-{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (n, _k), path in paths.items():
        notes = notes_of(path)
        assert notes, f"report {n}: no note"
        assert all(f": {n} open deals have a date" in note for note in notes), notes


def test_notes_do_not_leak_into_the_next_call_or_outside(tmp_path, fast_pictures):
    first = fk.report(deals_with_open_close_dates(2), out=tmp_path / "a")
    assert notes_of(first)
    clean = deals_with_open_close_dates(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FunnelkitWarning)  # nothing may warn outside
        second = fk.report(clean, out=tmp_path / "b")
    assert notes_of(second) == []


# ----------------------------------------------------------------------------
# the page: A4, verdicts above tables, sales words, Jupyter
# ----------------------------------------------------------------------------
def test_wide_tables_are_split_into_blocks_that_repeat_the_keys():
    table = pd.DataFrame(
        {"owner": ["Ann", "Bob"], **{f"measure_number_{i}": [i, i + 1] for i in range(20)}}
    )
    text = _report.table_html(table)
    blocks = re.findall(r"<table>.*?</table>", text, flags=re.S)
    assert len(blocks) > 1
    headers = []
    for block in blocks:
        ths = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", block)
        assert ths[0] == "owner"
        assert len(ths) <= _report.MAX_BLOCK_COLUMNS
        headers.extend(h.replace("<wbr>", "") for h in ths[1:])
        assert block.count("<tr>") == 3  # header and both rows in every block
    assert headers == [f"measure_number_{i}" for i in range(20)]


def test_one_wide_row_reads_as_name_and_value():
    row = pd.DataFrame({f"measure_number_{i}": [float(i)] for i in range(20)})
    text = _report.table_html(row)
    assert text.count("<table") == 1
    assert text.count("<tr>") == 20


def test_the_verdict_sits_above_its_table_not_in_it():
    table = pd.DataFrame({"coverage": [2.5], "verdict": ["on track: covers 2.5× the target"]})
    text = _report.table_html(table)
    assert text.index('<p class="verdict">on track') < text.index("<table")
    assert "verdict</th>" not in text


def test_picture_labels_are_shortened_and_stay_distinct():
    seen = {}

    def plot(table, ax=None):
        seen["labels"] = table["stage"].tolist()
        return ax

    long = ["x" * 100_000, "x" * 99_999 + "y", "demo"]
    table = pd.DataFrame({"stage": long, "deals": [1, 2, 3]})
    _title, shown, draw = _report._item("T", table, plot)
    from matplotlib.figure import Figure

    draw(Figure().subplots())
    labels = seen["labels"]
    assert labels[2] == "demo"
    assert all(len(label) <= _report.PICTURE_LABEL_CHARS + 5 for label in labels)
    assert len(set(labels)) == 3
    assert shown["stage"].tolist() == long  # the table keeps them whole


def test_the_report_object_shows_inline_in_jupyter(tmp_path, fast_pictures):
    path = fk.report(tiny_deals(), out=tmp_path, title="Inline <b>")
    assert isinstance(path, _report.Path)
    assert path.name == "report.html"
    shown = path._repr_html_()
    assert shown.startswith("<iframe")
    assert "srcdoc=" in shown
    assert "Inline &amp;lt;b&amp;gt;" in shown  # the page, escaped once more for srcdoc
    assert "<script" not in shown.lower()


def test_report_pictures_speak_of_leads_not_entities():
    """The report's sales wording reaches its pictures' fixed words, not the user's labels."""
    from matplotlib.figure import Figure

    events = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-01"]),
            "event": ["entities visit", "buy", "entities visit", "entities visit"],
        }
    )
    res = fk.dropoff(events, ["entities visit", "buy"])
    plain = Figure().subplots()
    fk.plot_dropoff(res, ax=plain)
    assert plain.get_title(loc="left").startswith("Where entities drop off")
    _title, _table, draw = _report._item("Where leads drop off", res, fk.plot_dropoff)
    ax = draw(Figure().subplots())
    assert ax.get_title(loc="left") == plain.get_title(loc="left").replace("entities", "leads", 1)
    assert ax.get_xlabel() == plain.get_xlabel().replace("entities", "leads")
    assert "leads" in ax.get_xlabel()
    # the step names (user strings) are left alone
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [t.get_text() for t in plain.get_yticklabels()]
    assert any("entities visit" in t for t in ticks)
