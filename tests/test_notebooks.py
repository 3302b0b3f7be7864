"""The notebooks in ``notebooks/``: percent-format scripts that run, show and say what they find.

Each notebook is stored once, as a jupytext percent-format script
(``notebooks/<name>.py``) that ruff lints like any other code. CI converts
each with jupytext and executes it with nbclient (kernel ``python3``), the
three side by side in temporary folders, with the same functions the docs
site uses to render them with their outputs (``tools/mkdocs_notebooks.py``).

The figures the prose quotes are recomputed here with plain pandas and must
appear, formatted the same way, in the prose: a changed sample or a changed
sentence fails the test.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import inspect
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

from .conftest import ROOT
from .test_common import RETIRED_COLUMNS

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
WALKTHROUGH = ROOT / "notebooks" / "sales_funnel_walkthrough.py"
BANK = ROOT / "notebooks" / "bank_marketing_touches.py"
PLANNING = ROOT / "notebooks" / "revenue_planning.py"


@cache
def hook() -> Any:
    """``tools/mkdocs_notebooks.py``, the docs hook that executes and renders the notebooks."""
    spec = importlib.util.spec_from_file_location(
        "mkdocs_notebooks", ROOT / "tools" / "mkdocs_notebooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(path: Path) -> list[Any]:
    jupytext = pytest.importorskip("jupytext", reason="jupytext is not installed (.[test])")
    return list(jupytext.read(path).cells)


def prose(path: Path) -> str:
    """The markdown of a percent script, whitespace collapsed (line breaks do not matter).

    Read without jupytext (so the figure checks also run where it is not
    installed): the comment lines of each ``# %% [markdown]`` cell.
    """
    lines, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            inside = line.startswith("# %% [markdown]")
        elif inside:
            assert line == "" or line.startswith("#"), f"{path.name}: {line!r} in a markdown cell"
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return " ".join(" ".join(lines).split())


def quoted(path: Path, figures: dict[str, str]) -> None:
    """Each formatted figure appears in the prose of ``path`` (labels name them on failure)."""
    text = prose(path)
    missing = {label: fig for label, fig in figures.items() if fig not in text}
    assert not missing, f"{path.name}: the prose does not quote {missing}"


# --- storage and lint ---------------------------------------------------------------


def test_the_three_notebooks_exist_as_scripts_only():
    names = {p.name for p in NOTEBOOKS}
    assert {p.name for p in (WALKTHROUGH, BANK, PLANNING)} <= names
    # one source of truth: no .ipynb beside the scripts
    assert not list((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_prose_reader_agrees_with_jupytext(path):
    markdown = " ".join(c.source for c in cells(path) if c.cell_type == "markdown")
    assert prose(path) == " ".join(markdown.split())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_percent_script(path):
    text = path.read_text()
    assert "#     formats: py:percent" in text
    assert text.count("# %% [markdown]") >= 5
    book = cells(path)
    assert book[0].cell_type == "markdown"
    assert book[0].source.startswith("# "), "the first cell is the page title"
    kinds = {c.cell_type for c in book}
    assert kinds == {"markdown", "code"}


def test_ruff_lints_the_notebooks():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    excluded = config.get("exclude", []) + config.get("extend-exclude", [])
    assert not any("notebooks" in e for e in excluded)


# --- the walkthrough shows every picture -----------------------------------------------


def plot_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "fk"
        and node.func.attr.startswith("plot_")
    ]


def test_the_walkthrough_calls_every_public_plot_function():
    public = {name for name in fk.__all__ if name.startswith("plot_")}
    assert len(public) >= 15
    called = set(plot_calls(WALKTHROUGH))
    assert public - called == set(), f"not in the walkthrough: {sorted(public - called)}"


# --- the renderer, on a hand-made notebook ---------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def hand_made(outputs: list[dict[str, Any]]) -> Any:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (.[test])")
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSome *prose*."),
        nbformat.v4.new_code_cell("x = 1\nx", outputs=[nbformat.from_dict(o) for o in outputs]),
    ]
    return book


def test_render_writes_prose_code_text_tables_and_pictures():
    table = pd.DataFrame({"a": [1, 2]}, index=["u", "v"])._repr_html_()
    book = hand_made(
        [
            {"output_type": "stream", "name": "stdout", "text": "hello\n"},
            {"output_type": "display_data", "data": {"text/html": table}, "metadata": {}},
            {"output_type": "display_data", "data": {"image/png": PNG}, "metadata": {}},
            {
                "output_type": "execute_result",
                "data": {"text/plain": "1"},
                "metadata": {},
                "execution_count": 1,
            },
        ]
    )
    page, images = hook().render(book, "demo")
    assert page.index("# Title") < page.index("```python\nx = 1\nx\n```")
    assert "the notebook `notebooks/demo.py`, executed when the site was built" in page
    assert "```text\nhello\n```" in page
    assert "<td>2</td>" in page
    assert "<style" not in page
    assert 'class="dataframe"' not in page
    assert list(images) == ["demo/01-2.png"]
    assert images["demo/01-2.png"] == base64.b64decode(PNG)
    assert "![output of cell 1](demo/01-2.png)" in page
    assert page.rstrip().endswith("```text\n1\n```")


def test_render_refuses_an_error_output():
    book = hand_made(
        [{"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}]
    )
    with pytest.raises(ValueError, match=r"demo\.py: cell 1 raised KeyError"):
        hook().render(book, "demo")


def test_the_fingerprint_changes_with_a_notebook_or_the_package(tmp_path):
    (tmp_path / "funnelkit" / "__pycache__").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    book = tmp_path / "notebooks" / "a.py"
    book.write_text("# %%\n1\n")
    module = tmp_path / "funnelkit" / "m.py"
    module.write_text("x = 1\n")
    paths = hook().notebook_paths(tmp_path)
    assert paths == [book]
    first = hook().fingerprint(tmp_path, paths)
    (tmp_path / "funnelkit" / "__pycache__" / "m.pyc").write_bytes(b"compiled")
    assert hook().fingerprint(tmp_path, paths) == first  # compiled files do not count
    module.write_text("x = 2\n")
    second = hook().fingerprint(tmp_path, paths)
    assert second != first
    book.write_text("# %%\n2\n")
    assert hook().fingerprint(tmp_path, paths) not in {first, second}


def test_a_missing_module_says_how_to_install_it():
    with pytest.raises(ModuleNotFoundError, match=r"needs no_such_module_x: .*\.\[docs\]"):
        hook().require(["json", "no_such_module_x"])


# --- executed (slow) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def executed():
    for name in ("jupytext", "nbformat", "nbclient", "ipykernel"):
        pytest.importorskip(name, reason=f"{name} is not installed (pip install -e '.[test]')")
    return hook().execute(NOTEBOOKS, ROOT)  # raises, naming each notebook that failed


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, executed):
    book = executed[path.stem]
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "a cell did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_result_is_followed_by_its_interpretation(path, executed):
    book = executed[path.stem].cells
    for i, cell in enumerate(book):
        if cell.cell_type == "code" and cell.outputs:
            assert i + 1 < len(book), f"{path.name}: the last cell shows a result with no prose"
            after = book[i + 1]
            assert after.cell_type == "markdown", (
                f"{path.name}: the result of cell {i} ({cell.source.splitlines()[0]!r}) is "
                "not followed by a markdown cell saying what it shows"
            )


def quoted_names(path: Path) -> set[str]:
    """The `names` (lower-case identifiers in backticks) of a notebook's prose."""
    return set(re.findall(r"`([a-z_][a-z0-9_]*)`", prose(path)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_prose_uses_no_retired_column_name(path):
    retired = {n: RETIRED_COLUMNS[n] for n in quoted_names(path) if n in RETIRED_COLUMNS}
    assert not retired, f"{path.name}: the prose uses retired column names (use): {retired}"


def string_defaults() -> set[str]:
    """The string defaults of funnelkit's public functions (``"furthest"``, ``"visits"``, ...)."""
    out = set()
    for name in fk.__all__:
        obj = vars(fk)[name]  # every public name exists (test_api checks it)
        if inspect.isfunction(obj):
            params = inspect.signature(obj).parameters.values()
            out |= {p.default for p in params if isinstance(p.default, str)}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_names_the_prose_quotes_are_shown(path, executed):
    """A `name` in the prose is a column, variable or value the notebook shows (or a default).

    A renamed result column leaves the old name in the prose: this test finds it.
    """
    book = executed[path.stem].cells
    shown = " ".join(c.source for c in book if c.cell_type == "code")
    for cell in book:
        for out in cell.get("outputs", []):
            shown += " " + json.dumps(out.get("data", {})) + " " + str(out.get("text", ""))
    defaults = string_defaults()
    stale = {
        name
        for name in quoted_names(path)
        if not re.search(rf"\b{name}\b", shown) and name not in defaults
    }
    assert not stale, f"{path.name}: the prose names what the notebook does not show: {stale}"


@pytest.mark.slow
def test_every_plot_call_of_the_walkthrough_shows_a_picture(executed):
    book = executed[WALKTHROUGH.stem]
    shown = 0
    for cell in book.cells:
        if cell.cell_type == "code" and "fk.plot_" in cell.source:
            pngs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(pngs) == cell.source.count("fk.plot_"), cell.source
            shown += len(pngs)
    assert shown == len(plot_calls(WALKTHROUGH))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_rendered_page_has_the_prose_and_real_pictures(path, executed):
    book = executed[path.stem]
    page, images = hook().render(book, path.stem)
    for cell in book.cells:
        if cell.cell_type == "markdown":
            assert cell.source.strip() in page
    assert images, "every notebook draws at least one picture"
    for name, png in images.items():
        assert name.startswith(f"{path.stem}/")
        assert png.startswith(b"\x89PNG")
        assert len(png) > 5_000
        assert f"]({name})" in page


# --- the figures the prose quotes, recomputed with plain pandas -------------------------


def ordered_first_times(events: pd.DataFrame, steps: list[str]) -> pd.DataFrame:
    """Per lead, the time of each step reached in order (the earliest after the previous)."""
    times = events[events["event"] == steps[0]].groupby("user_id")["timestamp"].min()
    out = {steps[0]: times}
    for step in steps[1:]:
        at = events[events["event"] == step].merge(
            times.rename("previous"), left_on="user_id", right_index=True
        )
        times = at[at["timestamp"] >= at["previous"]].groupby("user_id")["timestamp"].min()
        out[step] = times
    return pd.DataFrame(out)


def pct(x: float) -> str:
    return f"{x:.1%}"


def test_walkthrough_quotes_what_the_sample_shows():
    sample = fk.datasets.load_sample()
    steps = [*sample.stages[:-1], "won"]
    deals, events = sample.deals, sample.events
    reached = ordered_first_times(events, steps)
    n_leads = reached["lead generation"].notna().sum()
    n_won_in_order = reached["won"].notna().sum()
    n_won = (deals["status"] == "won").sum()
    prospects = reached["prospecting"].notna().sum()
    qualified = reached["qualification"].notna().sum()
    days = (reached["won"] - reached["lead generation"]).dropna().dt.days
    counts = reached.notna().sum()
    quarter = reached["lead generation"].dt.to_period("Q")
    won_share = reached["won"].notna().groupby(quarter).mean()
    won_ids = set(deals.loc[deals["status"] == "won", "deal_id"])
    later_losses = 1 - counts.iloc[3:].to_numpy() / counts.iloc[2:-1].to_numpy()
    # the stage history, furthest policy: a deal counts at every stage up to its furthest
    order = {s: i for i, s in enumerate(sample.stages)}
    furthest = sample.history["stage"].map(order).groupby(sample.history["deal_id"]).max()
    at_least = pd.Series({i: (furthest >= i).sum() for i in range(len(order))})
    # a deal counted at contact without an entry there: it reached a later stage
    history = sample.history
    later = set(history.loc[history["stage"].isin(sample.stages[4:]), "deal_id"])
    at_contact = set(history.loc[history["stage"] == "contact", "deal_id"])
    open_deals = deals[deals["status"] == "open"]
    lost_at_prospecting = ((deals["status"] == "lost") & (deals["stage"] == "prospecting")).sum()
    closed = deals[deals["status"].isin(["won", "lost"])]
    by_channel = closed.groupby("channel")["status"].apply(lambda s: (s == "won").mean())
    by_owner = closed.groupby("owner")["status"].agg(
        won=lambda s: (s == "won").sum(), closed="size"
    )
    by_owner["rate"] = by_owner["won"] / by_owner["closed"]
    revenue = deals[deals["status"] == "won"].groupby("channel")["amount"].sum()
    # touches: the n-th touch of a lead, up to its first positive reply
    touches = sample.touches.sort_values(["user_id", "timestamp"])
    touches = touches.assign(n=touches.groupby("user_id").cumcount() + 1)
    first_yes = touches[touches["response"] == "positive"].groupby("user_id")["n"].min()

    # the won deals the ordered funnel misses are those without a contact entry
    assert len(won_ids - at_contact) == n_won - n_won_in_order
    assert won_share.iloc[-1] < 0.02  # "the last quarter ... falls below 2%"
    assert by_channel.idxmax() == "referral"
    assert by_channel.idxmin() == "outbound email"
    assert by_owner["rate"].idxmax() == "Gus Larsen"
    assert revenue.idxmax() == "partner"
    quoted(
        WALKTHROUGH,
        {
            "leads": f"{n_leads:,} deals",
            "won in order": f"{n_won_in_order} of the {n_leads:,} leads "
            f"({pct(n_won_in_order / n_leads)})",
            "won deals": f"{n_won} won deals: the other {n_won - n_won_in_order} skipped *contact*",
            "lost at prospecting": f"({lost_at_prospecting:,} at prospecting alone)",
            "by quarter": f"Between {won_share.iloc[:-1].min():.0%} and "
            f"{won_share.iloc[:-1].max():.0%} of each quarter's leads are won",
            "biggest leak": f"{prospects - qualified:,} of the {prospects:,} prospects "
            f"({pct((prospects - qualified) / prospects)})",
            "later losses": f"between {later_losses.min():.0%} and {later_losses.max():.0%} of "
            "the leads",
            "contact": f"higher here ({pct(at_least[3] / at_least[2])}) than in the event funnel "
            f"({pct(counts['contact'] / counts['qualification'])})",
            "time to win": f"median {int(days.median())} days",
            "p90": f"more than {int(np.quantile(days, 0.9))} days",
            "skipped contact": f"{len(later - at_contact)} deals went past *contact*",
            "open": f"{len(open_deals)} deals are open, worth "
            f"{open_deals['amount'].sum() / 1e6:.1f} million",
            "referral": f"Referral wins {pct(by_channel['referral'])}",
            "outbound": f"outbound email {pct(by_channel['outbound email'])}",
            "gus": f"({by_owner.loc['Gus Larsen', 'won']} of "
            f"{by_owner.loc['Gus Larsen', 'closed']} closed deals, "
            f"{pct(by_owner.loc['Gus Larsen', 'rate'])})",
            "ana": f"Ana Souza ({by_owner.loc['Ana Souza', 'won']} wins of "
            f"{by_owner.loc['Ana Souza', 'closed']})",
            "partner": f"most revenue ({revenue['partner'] / 1e6:.2f} million)",
            "four touches": f"{(first_yes <= 4).mean():.0%} of all positive replies came "
            "within the first four touches",
        },
    )
    # "about one lead in ten replies positively to the first touch"
    assert (first_yes == 1).sum() / touches["user_id"].nunique() == pytest.approx(0.1, abs=0.01)


def test_bank_notebook_quotes_what_the_data_shows():
    bank = fk.datasets.load_bank_marketing()
    calls = bank["campaign"]
    yes = bank["y"] == "yes"
    rows = []
    for n in range(1, 13):
        at_risk = int((calls >= n).sum())
        said_yes = int(((calls == n) & yes).sum())
        rows.append((n, at_risk, said_yes))
    hazard = pd.DataFrame(rows, columns=["n", "at_risk", "yes"]).set_index("n")
    rate = hazard["yes"] / hazard["at_risk"]
    share = hazard["yes"].cumsum() / yes.sum()
    cumulative = 1 - (1 - rate).cumprod()
    long_tail = calls >= 10
    # touches up to the first yes, among subscribers (the yes came at the last call)
    needed = calls[yes]
    quoted(
        BANK,
        {
            "clients": f"{len(bank):,} clients, of whom {yes.sum()} ({pct(yes.mean())})",
            "first call": f"{hazard.loc[1, 'yes']} of {hazard.loc[1, 'at_risk']:,} at the first",
            "second call": f"{hazard.loc[2, 'yes']} of {hazard.loc[2, 'at_risk']:,} at the second",
            "first share": f"({share[1]:.0%}) said yes at the first call",
            "by third": f"{share[3]:.0%} by the third",
            "by fourth": f"{share[4]:.0%} by the fourth",
            "by twelfth": f"{cumulative[12]:.0%} of the clients would have subscribed by the "
            "twelfth call",
            "tail": f"ten or more calls ({long_tail.sum()} clients) brought "
            f"{(long_tail & yes).sum()} subscriptions",
            "median": f"{needed.median():.0f} calls at the median ({needed.mean():.1f} on average)",
            "second rate": f"at {pct(rate[2])} the second call",
        },
    )
    # by the outcome of the previous campaign
    clients = bank.groupby("poutcome").size()
    subscribed = yes.groupby(bank["poutcome"]).mean()
    first_call = ((calls == 1) & yes).groupby(bank["poutcome"]).mean()
    quoted(
        BANK,
        {
            "success": f"The {clients['success']} clients who had subscribed in the previous "
            f"campaign subscribed again {pct(subscribed['success'])} of the time",
            "unknown": f"of the {clients['unknown']:,} clients the bank had never called "
            f"before, {pct(subscribed['unknown'])} did",
            "first calls": f"succeeds {pct(first_call['success'])} of the time, the first call "
            f"to a new client {pct(first_call['unknown'])}",
            "failure": f"({pct(first_call['failure'])} at the first call)",
        },
    )
    # "unknown": the clients the previous campaign had not contacted
    assert (bank.loc[bank["poutcome"] == "unknown", "previous"] == 0).all()
    assert first_call["unknown"] < 0.05  # stop_after 0: even the first call is below 5%
    past = bank[bank["poutcome"] == "success"]
    past_rates = [
        ((past["campaign"] == n) & (past["y"] == "yes")).sum() / (past["campaign"] >= n).sum()
        for n in range(1, past["campaign"].max() + 1)
    ]
    assert min(past_rates) >= 0.05  # no call number below the threshold: stop_after NaN
    assert 0.04 <= rate[1] <= 0.06  # "about 5%"
    assert 0.04 <= rate[2] <= 0.06
    assert rate[5:].max() < 0.035  # "then the rate drops to 1-3%"
    assert rate[2] < 0.05  # below the 5% threshold from the second call on: stop after 1


def test_planning_notebook_quotes_what_the_sample_shows():
    deals = fk.datasets.load_sample().deals
    closed = deals[deals["status"].isin(["won", "lost"])]
    won = deals.loc[deals["status"] == "won", "amount"].to_numpy()
    rate = len(won) / len(closed)
    wins_needed = math.ceil(1_000_000 / won.mean())
    opps = math.ceil(wins_needed / rate)
    quoted(
        PLANNING,
        {
            "win rate": f"wins {pct(rate)} of its closed deals ({len(won)} of {len(closed):,})",
            "sizes": f"worth {won.mean():,.0f} on average but {np.median(won):,.0f} at the median",
            "naive plan": f"{wins_needed} wins of an average size make the target, and at a "
            f"{pct(rate)} win rate they take {opps} new deals",
        },
    )
    # "just under half": an independent simulation of the naive plan (another seed)
    rng = np.random.default_rng(7)
    wins = rng.binomial(opps, rate, size=4000)
    revenue = np.array([rng.choice(won, size=k).sum() for k in wins])
    assert 0.40 <= (revenue >= 1_000_000).mean() < 0.5
    # "a third or more short" one time in ten, "more than a third" above one time in ten
    low, high = np.quantile(revenue, [0.1, 0.9])
    assert 0.6 <= low / 1e6 <= 0.7
    assert high / 1e6 > 1.33
