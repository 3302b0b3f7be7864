"""Build the notebooks in ``notebooks/`` (stored without outputs).

Run from the repository root after merging new functions::

    python tools/build_notebooks.py

Every cell is built; CI executes the notebooks (``tests/test_notebooks.py``),
so a cell that calls something funnelkit does not have fails there. Edit the cells here, not in the
``.ipynb`` files, so a rebuild keeps the edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]


#: A cell: ("md" or "code", source).
Cell = tuple[str, str]

# fmt: off
WALKTHROUGH: list[Cell] = [
("md", """
# A sales funnel, end to end

This notebook walks through a complete funnel analysis with funnelkit on the
bundled sample: the records of a synthetic B2B sales team (January 2024 to the
export date 2025-06-30). The sample has a planted "truth" — documented in
`fk.datasets.load_sample`'s docstring — so every finding below can be checked
against what the generator actually did.
"""),
("code", """
import matplotlib.pyplot as plt
import pandas as pd

import funnelkit as fk

sample = fk.datasets.load_sample()
print(fk.__version__, sample.as_of.date())
"""),
("md", """
## The tables

Five tables that tell one story: the **event log** (one row per event of a
lead), the **deal table** (one row per deal, as a CRM exports it), the
**stage history** (one row per stage entry), the **touches** (emails, calls,
meetings and the reply they got) and the **costs** per channel and month.
"""),
("code", """
for name in ["events", "deals", "history", "touches", "costs"]:
    df = getattr(sample, name)
    print(f"{name:8} {len(df):>7,} rows  {list(df.columns)}")
"""),
("code", "sample.deals.head()"),
("md", """
A first look with plain pandas: where do the deals sit, and how did they end?
Deals still open at the export date are *open*, not lost — every funnelkit
metric treats them as censored rather than dropping them.
"""),
("code", """
by_stage = pd.crosstab(sample.deals["stage"], sample.deals["status"]).reindex(list(sample.stages))
by_stage
"""),
("md", """
## The funnel over events

The event log records each lead entering a stage (and `won` / `lost` at the
end). `fk.conversion` counts the leads that reach each step *in order*;
`conversion` is the share of the previous step, `overall` the share of the
first, with Wilson intervals.
"""),
("code", """
steps = [*sample.stages[:-1], "won"]
funnel = fk.conversion(sample.events, steps)
funnel
"""),
("code", """
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_funnel(funnel, ax=ax);
"""),
("code", """
fk.dropoff(sample.events, steps)
"""),
("md", """
## Stage history

CRMs record each move between stages. Deals skip stages and move backwards, so
how a deal is counted matters: under the default `furthest` policy a deal
counts at every stage up to the furthest it reached, and `skipped` says how
many were counted at a stage without a recorded entry.
"""),
("code", """
stages = fk.stage_conversion(sample.history, sample.stages)
stages
"""),
("code", """
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_stage_conversion(stages, ax=ax);
"""),
("md", """
## Who wins: channels and reps

The win rate of closed deals (won / (won + lost)) by acquisition channel. The
sample's planted truth: referral is the best channel and outbound email the
worst — and the intervals show the gap is far larger than the noise.
"""),
("code", """
fk.win_rate(sample.deals, by="channel")
"""),
("md", """
Ranking reps by their raw win rate rewards luck on small numbers. The
leaderboard ranks by a win rate shrunk toward the team's (empirical Bayes):
Gus Larsen, a strong rep with few deals, has the highest raw rate but is not
ranked first on so little evidence.
"""),
("code", """
fk.leaderboard(sample.deals)
"""),
("code", """
fk.channel_yield(sample.deals, costs=sample.costs)
"""),
("md", """
## How long deals take

Time from creation to a win. `naive_median` is the figure a CRM shows (won
deals only); `median` accounts for the deals still open (censored) and the
ones lost (a competing outcome).
"""),
("code", """
fk.sales_cycle(sample.deals, by="company_size")
"""),
("md", """
## What moves leads forward

Among leads that reached *qualification*, did those who requested a demo
move on to *contact* more often? `triggers` compares, for each behaviour, the
conversion of those who did it with those who did not (odds ratio, Fisher
test, Holm-adjusted). The sample plants a real effect for *demo request* and
none for *video view* — and that is what comes out. This is association, not
causation.
"""),
("code", """
steps = [*sample.stages[:-1], "won"]
behaviours = ["content download", "demo request", "free trial", "newsletter open",
              "video view", "webinar"]
fk.triggers(sample.events, steps, at_step=3, candidates=behaviours)
"""),
("md", """
## Deals to act on

Open deals that sit in their stage longer than 90% of past stays there, by
value at risk; and lost deals worth another try (a late stage, a recoverable
reason, high value).
"""),
("code", """
fk.stalled(sample.history, sample.stages, deals=sample.deals).head(10)
"""),
("code", """
fk.revival_candidates(sample.deals, sample.history, stages=sample.stages).head(10)
"""),
("md", """
## The report

`fk.report` runs every analysis the given tables allow and writes one
self-contained `report.html` (pictures embedded, no network needed) plus a
CSV file per table and a PNG file per picture. Each table is exactly what the
public function returns for the same tables; a part whose inputs are missing,
or whose precondition fails (no won deals yet), is listed as skipped, with
the reason.
"""),
("code", """
steps = [*sample.stages[:-1], "won"]
path = fk.report(
    sample.deals,
    history=sample.history,
    events=sample.events,
    steps=steps,
    touches=sample.touches,
    costs=sample.costs,
    stages=sample.stages,
    target=1_000_000,
    as_of=sample.as_of,
    out="walkthrough-report",
)
print(path)
sorted(p.name for p in path.parent.iterdir())[:10]
"""),
]

BANK: list[Cell] = [
("md", """
# How many calls does it take to sell a term deposit?

A real public dataset: the **UCI Bank Marketing** data — phone campaigns of a
Portuguese bank (May 2008 – November 2010) selling term deposits. One row per
client: `campaign` is the number of calls made to that client during the
campaign (including the last one), `y` whether the client subscribed.

funnelkit bundles a small extract (UCI's own 10% random sample, 4,521
clients, a subset of the columns): `fk.datasets.load_bank_marketing()`.

**Source and licence.** UCI Machine Learning Repository, dataset 222 "Bank
Marketing", by S. Moro, P. Cortez and P. Rita, licensed under CC BY 4.0
(https://doi.org/10.24432/C5K306). Cite: S. Moro, R. Laureano and P. Cortez,
*Using Data Mining for Bank Direct Marketing: An Application of the CRISP-DM
Methodology*, ESM'2011, pp. 117–121. The changes made for the extract are
listed in `funnelkit/data/README.md`.
"""),
("code", """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import funnelkit as fk

bank = fk.datasets.load_bank_marketing()
print(f"{len(bank):,} clients, {(bank['y'] == 'yes').mean():.1%} subscribed")
bank.head()
"""),
("md", """
## The naive view and why it misleads

The obvious table — subscription rate by the number of calls — mixes two
questions. A client called five times who subscribed needed five calls; a
client called five times who did not may have been given up on. The honest
question is a **discrete hazard**: of the clients who were called an n-th
time (and had not subscribed before), how many subscribed at that call?

The data has one row per client, not one row per call. The documented
assumption (the same `touches_from_counts` makes): a subscription, if any,
came at the last call. So a client with `campaign = 3` and `y = yes` was
called three times and said yes at the third; with `y = no`, three calls and
no yes (censored at 3).
"""),
("code", """
calls = bank["campaign"].to_numpy()
yes = (bank["y"] == "yes").to_numpy()
n_max = 12
touch = np.arange(1, n_max + 1)
at_risk = np.array([(calls >= n).sum() for n in touch])
responded = np.array([((calls == n) & yes).sum() for n in touch])
hazard = pd.DataFrame({"touch": touch, "at_risk": at_risk, "responded": responded})
hazard["rate"] = hazard["responded"] / hazard["at_risk"]
# share who would have subscribed by call n (Kaplan-Meier complement: a client who
# said no after k calls is censored at k, not counted as a "no" at later calls)
hazard["cumulative"] = 1 - (1 - hazard["rate"]).cumprod()
# of all clients who eventually subscribed, the share who did so by call n
hazard["share_of_responders"] = hazard["responded"].cumsum() / yes.sum()
hazard.round(3)
"""),
("code", """
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.bar(hazard["touch"], hazard["rate"], color="#0072B2", label="subscribed at this call")
ax2 = ax.twinx()
ax2.plot(hazard["touch"], hazard["share_of_responders"], color="#E69F00", marker="o",
         label="share of all subscribers reached")
ax.set_xlabel("call number")
ax.set_ylabel("rate at this call")
ax2.set_ylabel("cumulative share of subscribers")
ax.yaxis.set_major_formatter("{x:.0%}")
ax2.yaxis.set_major_formatter("{x:.0%}")
ax.set_xticks(hazard["touch"])
fig.legend(loc="upper right");
"""),
("md", """
## The same with funnelkit

`fk.touches_from_counts` expands the one-row-per-client table into a touch
log (touch 1..campaign, a positive response only at the last touch of a
subscriber) and `fk.touches_to_response` computes the hazard table — with
Wilson intervals, and the censored clients counted. It agrees with the
hand-made table above, number for number.
"""),
("code", """
log = fk.touches_from_counts(
    bank, entity="client_id", count="campaign", outcome="y", positive="yes"
)
curve = fk.touches_to_response(
    log, entity="client_id", time="touch", response="response", positive=True
)
check = curve.head(n_max)
assert (check["at_risk"].to_numpy() == hazard["at_risk"].to_numpy()).all()
assert (check["responded"].to_numpy() == hazard["responded"].to_numpy()).all()
assert np.allclose(check["cumulative"], hazard["cumulative"])
curve.head(n_max)
"""),
("code", """
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_touches(curve.head(n_max), ax=ax);
"""),
("code", """
fk.touches_summary(log, entity="client_id", time="touch", response="response", positive=True)
"""),
("md", """
**Reading it.** About 5% of the clients still in play subscribe at each of
the first two calls, about 4% at the third and fourth, and then the rate
drops to 1–3%. Almost half of all subscribers said yes at the first call,
83% by the third and 92% by the fourth: the bank's long tail of 10+ calls
(more than a hundred clients) bought almost nothing.

Caveat: this is observational data. The bank chose whom to call again, so the
falling rate mixes "more calls stop working" with "the clients called often
are the hard ones".
"""),
]

PLANNING: list[Cell] = [
("md", """
# Revenue planning: how many deals do we need — and how likely is the plan?

"We must make 1,000,000 next quarter. How many deals do we need at each
stage?" The usual answer is a reverse funnel: target ÷ average deal size ÷
win rate ÷ each stage's conversion. This notebook builds it from the sample's
own history and then asks the question CRM dashboards skip: **how likely is
that plan to hit the target?** (Answer: about half the time, by
construction.)
"""),
("code", """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import funnelkit as fk

sample = fk.datasets.load_sample()
deals = sample.deals
target = 1_000_000
"""),
("md", """
## Inputs measured from the data

Win rate of *closed* deals (won / (won + lost)) and the size of won deals.
Deal sizes are skewed: the mean is well above the median, which matters
below.
"""),
("code", """
closed = deals[deals["status"].isin(["won", "lost"])]
win_rate = (closed["status"] == "won").mean()
won_amounts = deals.loc[deals["status"] == "won", "amount"].to_numpy()
deal_size = won_amounts.mean()
print(f"win rate {win_rate:.1%} of {len(closed):,} closed deals")
print(f"won deal size: mean {deal_size:,.0f}, median {np.median(won_amounts):,.0f}")
"""),
("md", """
## The naive plan

Won deals needed = ceil(target / mean deal size); deals needed before that =
ceil(won / win rate).
"""),
("code", """
won_needed = int(np.ceil(target / deal_size))
opps_needed = int(np.ceil(won_needed / win_rate))
print(f"{won_needed} won deals from {opps_needed} new deals")
"""),
("md", """
## How likely is the naive plan?

With `opps_needed` opportunities each won with probability `win_rate`, and
won amounts drawn from the observed amounts, revenue is a random sum. A Monte
Carlo estimate of the chance it reaches the target:
"""),
("code", """
rng = np.random.default_rng(0)


def simulate(n_deals, n_sims):
    \"\"\"Revenue of n_deals new deals in n_sims simulated quarters.\"\"\"
    wins = rng.binomial(n_deals, win_rate, size=n_sims)
    amounts = rng.choice(won_amounts, size=(n_sims, wins.max()))
    return np.where(np.arange(wins.max()) < wins[:, None], amounts, 0.0).sum(axis=1)


revenue = simulate(opps_needed, 20_000)
print(f"P(revenue >= target) = {(revenue >= target).mean():.0%}")
"""),
("code", """
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.hist(revenue, bins=60, color="#0072B2")
ax.axvline(target, color="#D55E00", lw=2, label="target")
ax.set_xlabel("revenue from the plan's opportunities")
ax.set_ylabel("simulations")
ax.xaxis.set_major_formatter("{x:,.0f}")
ax.legend();
"""),
("md", """
## Opportunities needed for 90% confidence

Increase the number of opportunities until the target is reached in 90% of
the simulations.
"""),
("code", """
n = opps_needed
while (simulate(n, 5_000) >= target).mean() < 0.9:
    n += 10
print(f"about {n} new deals (vs {opps_needed} in the naive plan)")
"""),
("md", """
## The same with funnelkit

`fk.deals_needed` gives the expected-value plan, the counts needed for a
chosen confidence and the chance that the expected-value plan works —
exactly (binomial) for counts, by Monte Carlo over the observed deal sizes
when `deal_sizes` is given.
"""),
("code", """
fk.deals_needed(target, deal_size=deal_size, win_rate=win_rate, confidence=0.9,
                deal_sizes=won_amounts)
"""),
("md", """
`fk.target_probability` answers the reverse question: with this many new
deals, how likely is the target?
"""),
("code", """
fk.target_probability(target, n=opps_needed, win_rate=win_rate, deal_sizes=won_amounts)
"""),
("md", """
## A plan measured from the data

`fk.plan` measures everything from the deal table and the stage history —
each stage's conversion, the win rate, the deal sizes, how long deals take
from each stage — and says how many deals each stage needs, *when* they must
enter it to close before the end of the period, and what the open pipeline
already covers. (Retention comes after the sale, so it is not a stage of the
plan.)
"""),
("code", """
plan = fk.plan(deals, target, history=sample.history, stages=list(sample.stages[:-1]),
               period_end="2025-12-31", as_of=sample.as_of)
plan
"""),
("md", """
**Reading it.** `needed` is the expected-value plan *net of the open
pipeline*: how many new deals must enter each stage on top of what is already
open. When it is 0, the open deals alone are expected to cover the target —
but `probability` says how often that actually happens. `needed_for_confidence`
is how many new deals each stage needs to reach the target with 90%
probability, and `enter_by` the latest date they can enter that stage and
still close by the end of the period (`time_left` negative: too late).
"""),
("code", """
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_plan(plan, ax=ax);
"""),
]

# fmt: on


def build(cells: list[Cell]) -> Any:
    """The notebook of ``cells``."""
    book = nbf.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.metadata["language_info"] = {"name": "python"}
    for kind, text in cells:
        src = text.strip("\n")
        new = nbf.v4.new_markdown_cell if kind == "md" else nbf.v4.new_code_cell
        book.cells.append(new(src))
    for i, c in enumerate(book.cells):
        c["id"] = f"cell-{i:02d}"
    nbf.validate(book)
    return book


#: Each notebook file and its cells.
NOTEBOOKS = {
    "sales_funnel_walkthrough.ipynb": WALKTHROUGH,
    "bank_marketing_touches.ipynb": BANK,
    "revenue_planning.ipynb": PLANNING,
}


if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        book = build(cells)
        nbf.write(book, ROOT / "notebooks" / name)
        print(f"{name}: {len(book.cells)} cells")
