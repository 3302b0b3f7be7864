"""Every picture reads from 1 to 50 groups, steps or reps, with long, Cyrillic and ``$`` labels.

Each public ``plot_*`` (enumerated from ``funnelkit.__all__``, so a new plot
without a case here fails) is drawn on results computed by the real metric
functions, and the drawn figure is checked: no two texts overlap, every
text lies inside the figure, no text is parsed as mathtext, user labels are
drawn literally (``$`` shown as ``$``) and the Axes has a title.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import funnelkit as fk

PLOTS = sorted(name for name in fk.__all__ if name.startswith("plot_"))

STYLES: dict[str, Callable[[int], str]] = {
    "long": lambda i: f"group {i}: a name much longer than any picture can show in full",
    "cyrillic": lambda i: f"Отдел продаж Северо-Запад № {i}",
    "dollar": lambda i: f"$ales {i} & $upport",
}
#: (number of groups, label style); "mixed" cycles through the three styles.
CASES = [(1, "long"), (1, "cyrillic"), (1, "dollar"), (8, "mixed"), (30, "mixed"), (50, "mixed")]


def names(n: int, style: str) -> list[str]:
    if style == "mixed":
        cycle = itertools.cycle(STYLES.values())
        return [next(cycle)(i + 1) for i in range(n)]
    return [STYLES[style](i + 1) for i in range(n)]


# ---------------------------------------------------------------- inputs


@cache
def sample() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fk.datasets.load_sample(n_leads=2500)


def steps_of(s: Any) -> list[str]:
    return [*s.stages[:-1], "won"]


def relabel(frame: pd.DataFrame, key: str, labels: list[str], column: str = "grp") -> pd.DataFrame:
    """``frame`` with ``column`` = one of ``labels``, assigned by a stable hash of ``key``."""
    codes = pd.util.hash_pandas_object(frame[key], index=False).to_numpy() % len(labels)
    return frame.assign(**{column: np.asarray(labels, dtype=object)[codes]})


def chain_events(labels: list[str], n_entities: int = 1500, keep: float = 0.93) -> pd.DataFrame:
    """Events of a funnel whose steps are ``labels``; each step keeps ``keep`` of the last."""
    rng = np.random.default_rng(7)
    depth = np.minimum(rng.geometric(1 - keep, n_entities), len(labels))
    ent = np.repeat(np.arange(n_entities), depth)
    k = np.concatenate([np.arange(d) for d in depth])
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(
        np.repeat(rng.integers(0, 90 * 24, n_entities), depth), unit="h"
    )
    return pd.DataFrame(
        {
            "user_id": ent,
            "timestamp": start + pd.to_timedelta(k * 5 + rng.integers(0, 5, k.size), unit="h"),
            "event": np.asarray(labels, dtype=object)[k],
        }
    )


def chain_history(labels: list[str]) -> pd.DataFrame:
    ev = chain_events(labels)
    return ev.rename(columns={"user_id": "deal_id", "event": "stage", "timestamp": "entered_at"})


def quiet(f: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f()


def funnel_groups(labels: list[str]) -> pd.DataFrame:
    s = sample()
    ev = relabel(s.events, "user_id", labels)
    return quiet(lambda: fk.conversion(ev, steps_of(s), by="grp"))


def deals_groups(labels: list[str], column: str = "grp") -> pd.DataFrame:
    return relabel(sample().deals, "deal_id", labels, column)


def history_groups(labels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = sample()
    return s.history, deals_groups(labels)


def touches_groups(labels: list[str]) -> pd.DataFrame:
    return relabel(sample().touches, "user_id", labels)


def long_touches(n: int) -> pd.DataFrame:
    """Up to ``n`` touches each, a positive reply ending the sequence."""
    rng = np.random.default_rng(3)
    rows = []
    for e in range(400):
        k = int(min(rng.geometric(0.08), n))
        for t in range(k):
            last = t == k - 1 and k < n
            rows.append((e, t, "positive" if last else "no reply"))
    return pd.DataFrame(rows, columns=["user_id", "timestamp", "response"])


def behaviour_events(labels: list[str], wide: bool = False) -> pd.DataFrame:
    """Two steps and ``labels`` as behaviours between them (some linked to converting).

    ``wide``: the first behaviour all but rules converting out (odds ratios over
    several decades, as a 'lost' event gives on real data).
    """
    rng = np.random.default_rng(5)
    rows = []
    for e in range(3000):
        rows.append((e, 0, "start"))
        for j, b in enumerate(labels):
            if rng.random() < 0.3:
                rows.append((e, 1 + j, b))
        did = [r[2] for r in rows[-len(labels) :] if r[0] == e]
        converts = rng.random() < 0.2 + 0.02 * len(did)
        if wide and labels[0] in did:
            converts = rng.random() < 0.002
        if converts:
            rows.append((e, 1000, "finish"))
    out = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    return out.assign(timestamp=pd.to_datetime(out["timestamp"], unit="h"))


def next_event_log(labels: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for e in range(2000):
        rows.append((e, 0, "cart"))
        rows.append((e, 1, labels[int(rng.integers(0, len(labels)))]))
        if e % 7 == 0:
            rows.append((e, 2, "buy"))
    out = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    return out.assign(timestamp=pd.to_datetime(out["timestamp"], unit="h"))


def channel_costs(labels: list[str]) -> pd.DataFrame:
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    return pd.DataFrame(
        [(c, m, 500.0 + 37.0 * i) for i, c in enumerate(labels) for m in months],
        columns=["channel", "month", "cost"],
    )


def plan_rates(labels: list[str]) -> pd.DataFrame:
    rates = {lab: 0.5 + 0.45 * (i % 3) / 3 for i, lab in enumerate(labels)}
    return fk.deals_needed(1_000_000, avg_deal=25_000, win_rate=0.3, stage_rates=rates)


Builder = Callable[[list[str]], tuple[pd.DataFrame, dict[str, Any]]]

#: plot name -> {dimension: build(labels) -> (result, plot keywords)}
BUILDERS: dict[str, dict[str, Builder]] = {
    "plot_funnel": {
        "groups": lambda lab: (funnel_groups(lab), {}),
        "groups-overlay": lambda lab: (funnel_groups(lab), {"layout": "overlay"}),
        "steps": lambda lab: (quiet(lambda: fk.conversion(chain_events(lab), lab)), {}),
    },
    "plot_dropoff": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.dropoff(
                    relabel(sample().events, "user_id", lab), steps_of(sample()), by="grp"
                )
            ),
            {},
        ),
        "steps": lambda lab: (
            quiet(lambda: fk.dropoff(chain_events([*lab, "end"]), [*lab, "end"])),
            {},
        ),
    },
    "plot_time_to_convert": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.time_to_convert(
                    relabel(sample().events, "user_id", lab), steps_of(sample()), by="grp"
                )
            ),
            {},
        ),
        "groups-bins": lambda lab: (
            quiet(
                lambda: fk.time_to_convert(
                    relabel(sample().events, "user_id", lab), steps_of(sample()), by="grp", bins=12
                )
            ),
            {},
        ),
    },
    "plot_conversion_over_time": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.conversion_over_time(
                    relabel(sample().events, "user_id", lab),
                    steps_of(sample())[:3],
                    by="grp",
                    window="30D",
                    period="M",
                )
            ),
            {},
        ),
    },
    "plot_next_events": {
        "paths": lambda lab: (
            quiet(lambda: fk.next_events(next_event_log(lab), ["cart", "buy"], depth=1, top=None)),
            {},
        ),
        "groups": lambda lab: (
            quiet(
                lambda: fk.next_events(
                    relabel(sample().events, "user_id", lab), steps_of(sample()), by="grp", top=2
                )
            ),
            {},
        ),
    },
    "plot_pipeline": {
        "stages": lambda lab: (
            quiet(
                lambda: fk.pipeline(
                    relabel(sample().deals, "deal_id", lab, "stage").assign(status="open"),
                    stages=lab,
                )
            ),
            {},
        ),
    },
    "plot_sales_cycle": {
        "groups": lambda lab: (quiet(lambda: fk.sales_cycle(deals_groups(lab), by="grp")), {}),
    },
    "plot_win_curve": {
        "groups": lambda lab: (quiet(lambda: fk.win_curve(deals_groups(lab), by="grp")), {}),
    },
    "plot_leaderboard": {
        "reps": lambda lab: (quiet(lambda: fk.leaderboard(deals_groups(lab, "owner"))), {}),
    },
    "plot_channel_yield": {
        "channels": lambda lab: (
            quiet(lambda: fk.channel_yield(deals_groups(lab, "channel"), costs=channel_costs(lab))),
            {},
        ),
        "channels-won-value": lambda lab: (
            quiet(lambda: fk.channel_yield(deals_groups(lab, "channel"))),
            {"metric": "won_value"},
        ),
    },
    "plot_stage_conversion": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.stage_conversion(
                    sample().history, sample().stages, by="grp", deals=deals_groups(lab)
                )
            ),
            {},
        ),
        "stages": lambda lab: (quiet(lambda: fk.stage_conversion(chain_history(lab), lab)), {}),
    },
    "plot_time_in_stage": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.time_in_stage(
                    sample().history, sample().stages, by="grp", deals=deals_groups(lab)
                )
            ),
            {},
        ),
        "stages": lambda lab: (
            quiet(lambda: fk.time_in_stage(chain_history(lab), lab, as_of="2025-06-01")),
            {},
        ),
    },
    "plot_touches": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.touches_to_response(touches_groups(lab), positive="positive", by="grp")
            ),
            {},
        ),
        "touches": lambda lab: (
            quiet(lambda: fk.touches_to_response(long_touches(len(lab) + 1), positive="positive")),
            {},
        ),
    },
    "plot_triggers": {
        "groups": lambda lab: (
            quiet(
                lambda: fk.triggers(
                    relabel(behaviour_events(["demo", "video", "webinar request"]), "user_id", lab),
                    ["start", "finish"],
                    by="grp",
                )
            ),
            {},
        ),
        "behaviours": lambda lab: (
            quiet(lambda: fk.triggers(behaviour_events(lab), ["start", "finish"], min_entities=25)),
            {},
        ),
        "behaviours-wide": lambda lab: (
            quiet(
                lambda: fk.triggers(
                    behaviour_events(["lost", *lab], wide=True), ["start", "finish"]
                )
            ),
            {},
        ),
    },
    "plot_plan": {
        "stages": lambda lab: (plan_rates(lab), {}),
    },
}


#: Dimensions whose labels are only counted (touch numbers), never drawn.
UNLABELLED = {"touches"}

# ---------------------------------------------------------------- checks

#: Two texts may touch by this many pixels (antialiasing, rounding).
TOLERANCE = 1.0


def drawn_texts(fig: Figure, monkeypatch: pytest.MonkeyPatch) -> list[Text]:
    """Draw ``fig`` (Agg) and return every Text that was drawn (visible, not empty)."""
    drawn: list[Text] = []
    original = Text.draw

    def record(self: Text, renderer: Any) -> None:
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        original(self, renderer)

    with monkeypatch.context() as m:
        m.setattr(Text, "draw", record)
        fig.canvas.draw()
    return drawn


def overlaps(texts: list[Text], renderer: Any) -> list[tuple[str, str]]:
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    bad = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if w > TOLERANCE and h > TOLERANCE:
            bad.append((a.get_text(), b.get_text()))
    return bad


def outside(texts: list[Text], fig: Figure, renderer: Any) -> list[str]:
    box = fig.bbox
    out = []
    for t in texts:
        b = t.get_window_extent(renderer)
        if (
            b.x0 < box.x0 - TOLERANCE
            or b.y0 < box.y0 - TOLERANCE
            or b.x1 > box.x1 + TOLERANCE
            or b.y1 > box.y1 + TOLERANCE
        ):
            out.append(t.get_text())
    return out


def check_picture(fig: Figure, ax: Any, labels: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    texts = drawn_texts(fig, monkeypatch)
    renderer = fig.canvas.get_renderer()
    bad = overlaps(texts, renderer)
    assert not bad, f"{len(bad)} pairs of texts overlap, e.g. {bad[:3]}"
    off = outside(texts, fig, renderer)
    assert not off, f"texts outside the figure: {off[:3]}"
    shown = [t._preprocess_math(t.get_text()) for t in texts]
    assert not [s for s, math in shown if math], "a text was parsed as mathtext"
    assert ax.get_title(loc="left") or ax.get_title(), "the picture has no title"
    literal = " ".join(s for s, _ in shown)
    # a $ label is drawn with its $ (not swallowed by mathtext), a Cyrillic one as written
    dollar = [s for s, _ in shown if re.search(r"(?<![Ss])ales \d", s)]
    lost = [s for s in dollar if "$ales" not in s]
    assert not lost, f"a $ label lost its $: {lost[:3]}"
    if len(labels) <= 8:
        assert any("$" in lab for lab in labels) <= bool(dollar), "no $ label drawn"
        assert any(lab.startswith("Отдел") for lab in labels) <= ("Отдел продаж" in literal)


def test_every_plot_has_cases():
    missing = [p for p in PLOTS if p not in BUILDERS]
    assert not missing, f"plot functions without a scale case in BUILDERS: {missing}"
    assert not [b for b in BUILDERS if b not in PLOTS], "a case for a plot that is not public"


CASE_IDS = [(p, dim) for p in PLOTS for dim in BUILDERS.get(p, {"none": None})]


@pytest.mark.parametrize(
    ("n", "style"),
    # 30 and 50 groups are the slow half: the README's full run checks them, the fast
    # loop (-m "not slow") checks 1 and 8
    [pytest.param(n, s, marks=[pytest.mark.slow] if n >= 30 else []) for n, s in CASES],
    ids=[f"{n}-{s}" for n, s in CASES],
)
@pytest.mark.parametrize(("plot", "dim"), CASE_IDS, ids=[f"{p}-{d}" for p, d in CASE_IDS])
@pytest.mark.parametrize("figure", ["report", "auto"])
def test_picture_reads(plot, dim, n, style, figure, monkeypatch):
    labels = names(n, style)
    result, kwargs = BUILDERS[plot][dim](labels)
    func = getattr(fk, plot)
    if figure == "report":  # the size of the pictures of fk.report
        fig = Figure(figsize=(8.0, 4.6), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        ax = func(result, ax=fig.subplots(), **kwargs)
    else:  # ax=None with no figure open: the plot makes a figure fitted to its rows
        plt.close("all")
        ax = func(result, **kwargs)
        fig = ax.figure
    check_picture(fig, ax, [] if dim in UNLABELLED else labels, monkeypatch)


def test_overlap_check_can_fail(monkeypatch):
    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title("a title")
    ax.text(0.5, 0.5, "one text")
    ax.text(0.5, 0.5, "another text")
    texts = drawn_texts(fig, monkeypatch)
    assert overlaps(texts, fig.canvas.get_renderer())
    ax.text(3.0, 0.5, "far right")
    texts = drawn_texts(fig, monkeypatch)
    assert outside(texts, fig, fig.canvas.get_renderer()) == ["far right"]


# ---------------------------------------------------------------- real data


def maven_deals(root: Any) -> pd.DataFrame:
    """Maven CRM's opportunities as a deal table (30 sales agents, 7 products)."""
    sp = pd.read_csv(
        root / "maven_crm_sales_opportunities" / "sales_pipeline.csv",
        parse_dates=["engage_date", "close_date"],
    )
    status = sp["deal_stage"].map({"Won": "won", "Lost": "lost"}).fillna("open")
    deals = pd.DataFrame(
        {
            "deal_id": sp["opportunity_id"],
            "created_at": sp["engage_date"],
            "closed_at": sp["close_date"].where(status != "open"),
            "status": status,
            "amount": sp["close_value"],
            "owner": sp["sales_agent"],
            "channel": sp["product"],
        }
    )
    return deals.dropna(subset=["created_at"])


def olist_events(root: Any) -> pd.DataFrame:
    """Olist's marketing funnel as events: MQL, then won; by lead origin (11 and missing)."""
    folder = root / "olist_marketing_funnel"
    mql = pd.read_csv(
        folder / "olist_marketing_qualified_leads_dataset.csv", parse_dates=["first_contact_date"]
    )
    won = pd.read_csv(folder / "olist_closed_deals_dataset.csv", parse_dates=["won_date"])
    origin = mql.set_index("mql_id")["origin"]
    return pd.concat(
        [
            pd.DataFrame(
                {"user_id": mql["mql_id"], "timestamp": mql["first_contact_date"],
                 "event": "mql", "origin": mql["origin"]}
            ),
            pd.DataFrame(
                {"user_id": won["mql_id"], "timestamp": won["won_date"], "event": "won",
                 "origin": won["mql_id"].map(origin)}
            ),
        ],
        ignore_index=True,
    )  # fmt: skip


REAL = {
    "maven-leaderboard": lambda r: (fk.plot_leaderboard, fk.leaderboard(maven_deals(r)), {}),
    "maven-sales-cycle": lambda r: (fk.plot_sales_cycle, fk.sales_cycle(maven_deals(r)), {}),
    "maven-sales-cycle-reps": lambda r: (
        fk.plot_sales_cycle,
        fk.sales_cycle(maven_deals(r), by="owner"),
        {},
    ),
    "maven-win-curve": lambda r: (
        fk.plot_win_curve,
        fk.win_curve(maven_deals(r), by="channel"),
        {},
    ),
    "maven-channel-yield": lambda r: (fk.plot_channel_yield, fk.channel_yield(maven_deals(r)), {}),
    "olist-funnel": lambda r: (
        fk.plot_funnel,
        fk.conversion(olist_events(r), ["mql", "won"], by="origin"),
        {},
    ),
    "olist-funnel-overlay": lambda r: (
        fk.plot_funnel,
        fk.conversion(olist_events(r), ["mql", "won"], by="origin"),
        {"layout": "overlay"},
    ),
    "olist-dropoff": lambda r: (
        fk.plot_dropoff,
        fk.dropoff(olist_events(r), ["mql", "won"], by="origin"),
        {},
    ),
    "olist-time-to-convert": lambda r: (
        fk.plot_time_to_convert,
        fk.time_to_convert(olist_events(r), ["mql", "won"], by="origin"),
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(REAL))
def test_real_data_pictures_read(case, shared_data, monkeypatch):
    """Maven CRM's 30 reps and Olist's lead origins, at the report's picture size."""
    plot, result, kwargs = quiet_real(lambda: REAL[case](shared_data))
    fig = Figure(figsize=(8.0, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = plot(result, ax=fig.subplots(), **kwargs)
    check_picture(fig, ax, [], monkeypatch)
    drawn = " ".join(t.get_text() for t in drawn_texts(fig, monkeypatch))
    if "origin" in result.columns:
        # the missing origin has one name in every picture
        assert "(missing)" in drawn
        assert "nan" not in drawn.split()


def quiet_real(f: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f()


def test_groups_never_share_a_colour():
    """Up to 8 groups, one distinct colour each; past that, no colour stands for two groups."""
    import matplotlib.colors as mcolors

    for n in (2, 8):
        res = quiet(lambda n=n: fk.win_curve(deals_groups(names(n, "mixed")), by="grp"))
        ax = fk.plot_win_curve(res, ax=plt.figure().subplots())
        colours = [mcolors.to_hex(line.get_color()) for line in ax.get_lines()]
        assert len(colours) == n
        assert len(set(colours)) == n
    res = quiet(lambda: fk.win_curve(deals_groups(names(11, "mixed")), by="grp"))
    ax = fk.plot_win_curve(res, ax=plt.figure().subplots())
    # 11 groups: one row each (the groups are tick labels, not colours)
    assert len(ax.get_yticklabels()) == 11
    assert ax.get_legend() is None or len(ax.get_legend().get_texts()) == 1


def test_a_figure_without_layout_gets_constrained_layout():
    # the README's snippet: plt.subplots(figsize=(8, 4.5)) with no layout; the step labels
    # ("lead generation") were clipped on the left
    fig, ax = plt.subplots(figsize=(8, 4.5))
    assert fig.get_layout_engine() is None
    fk.plot_funnel(quiet(lambda: fk.conversion(sample().events, steps_of(sample()))), ax=ax)
    assert fig.get_layout_engine() is not None
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for t in ax.get_yticklabels():
        assert t.get_window_extent(renderer).x0 >= 0, t.get_text()
    # ax=None with no figure open: a new constrained figure
    plt.close("all")
    ax = fk.plot_leaderboard(
        quiet(lambda: fk.leaderboard(deals_groups(names(30, "mixed"), "owner")))
    )
    assert ax.figure.get_layout_engine() is not None
    assert ax.figure.get_size_inches()[1] > 4.6  # taller for 30 reps
    assert all(t.get_visible() for t in ax.get_yticklabels())  # every rep labelled


def test_literal_and_shorten_helpers():
    from funnelkit.plotting._common import MAX_LABEL, label, legend_label, shorten

    assert shorten("x" * 40) == "x" * (MAX_LABEL - 1) + "…"
    assert len(shorten("x" * 40)) == MAX_LABEL
    assert shorten("short") == "short"
    assert label("$5 and $6") == r"\$5 and \$6"
    # a label starting with "_" would be hidden from a legend by matplotlib
    assert not legend_label("_private").startswith("_")
