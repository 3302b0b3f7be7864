# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A sales funnel, end to end
#
# This notebook walks through a complete funnel analysis with funnelkit on the
# bundled sample: the records of a synthetic B2B sales team (January 2024 to the
# export date 2025-06-30). The sample has a planted "truth" — documented in
# `fk.datasets.load_sample`'s docstring — so every finding below can be checked
# against what the generator actually did. Every picture funnelkit draws
# appears here, next to the table it is drawn from, and each result is followed
# by what it says. The figures quoted in the prose are checked by the test
# suite against plain pandas computations on the same sample.
#
# Open this file as a notebook with jupytext (`pip install jupytext`, then open
# `notebooks/sales_funnel_walkthrough.py` in Jupyter), or run it as a script.

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import funnelkit as fk

sample = fk.datasets.load_sample()
steps = [*sample.stages[:-1], "won"]  # the funnel: every stage up to the close, then won


def figure(width=9, height=4.5):
    """A new figure's Axes, the size used throughout."""
    return plt.subplots(figsize=(width, height), layout="constrained")[1]


# %% [markdown]
# ## The tables
#
# Five tables that tell one story: the **event log** (one row per event of a
# lead), the **deal table** (one row per deal, as a CRM exports it), the
# **stage history** (one row per stage entry), the **touches** (emails, calls,
# meetings and the reply they got) and the **costs** per channel and month.

# %%
for name in ["events", "deals", "history", "touches", "costs"]:
    table = getattr(sample, name)
    print(f"{name:8} {len(table):>7,} rows  {list(table.columns)}")

# %% [markdown]
# One deal per lead: 4,000 deals, each with about two and a half stage
# entries and about four touches on average. The deal table is what most
# CRM exports look like — a status, the stage the deal sits at (or was lost
# at), an amount and the attributes to group by (channel, owner, company
# size, industry, region).
#
# A first look with plain pandas: where do the deals sit, and how did they end?

# %%
pd.crosstab(sample.deals["stage"], sample.deals["status"]).reindex(list(sample.stages))

# %% [markdown]
# Most deals are lost early (2,060 at prospecting alone), and 230 deals are
# still open at the export date. Open deals are *not* lost: every funnelkit
# metric treats them as censored (their outcome is not known yet) rather than
# dropping them or counting them as failures.
#
# ## The funnel over events
#
# The event log records each lead entering a stage (and `won` / `lost` at the
# end). `fk.conversion` counts the leads that reach each step *in order*;
# `conversion` is the share of the previous step, `overall` the share of the
# first, with Wilson intervals.

# %%
funnel = fk.conversion(sample.events, steps)
display(funnel)
fk.plot_funnel(funnel, ax=figure())
plt.show()

# %% [markdown]
# 175 of the 4,000 leads (4.4%) go through every step in order and are won.
# The deal table counts 193 won deals: the other 18 skipped *contact* on the
# way (the sample's CRM mess: 8% of deals skip it), and an ordered funnel
# over events does not count a lead at a step it never recorded. The stage
# history below counts them.
#
# Where do leads drop off? `fk.dropoff` turns the funnel into the leads lost
# between consecutive steps and marks the biggest leak.

# %%
leaks = fk.dropoff(sample.events, steps)
display(leaks)
fk.plot_dropoff(leaks, ax=figure())
plt.show()

# %% [markdown]
# The biggest leak, by far, is prospecting → qualification: 2,186 of the
# 3,376 prospects (64.8%) never qualify. That is the outreach step — a lead
# qualifies when it replies positively to an email, call or meeting — and it
# is where the touches analysis below looks. Every later step loses between
# 36% and 41% of the leads that reached the step before.
#
# How long does the whole way take? `fk.time_to_convert` gives the
# distribution of the time from the first step to the last, for the leads
# that made it.

# %%
durations = fk.time_to_convert(sample.events, steps)
display(durations)
fk.plot_time_to_convert(fk.time_to_convert(sample.events, steps, bins=12), ax=figure())
plt.show()

# %% [markdown]
# A won lead takes about two months from first contact to the win (median
# 61 days), with a long right tail: one in ten takes more than 109 days
# (the sample plants stalls of five times the usual stay in proposal and
# negotiation). A forecast that assumes every deal closes in two months is
# too early for a good share of them.
#
# Has the funnel changed over time? `fk.conversion_over_time` computes the
# same funnel for each cohort of leads (here by the quarter they arrived in).

# %%
by_quarter = fk.conversion_over_time(sample.events, steps, period="Q")
display(by_quarter[by_quarter["step"] == "won"])
fk.plot_conversion_over_time(by_quarter, step="won", ax=figure())
plt.show()

# %% [markdown]
# Between 4% and 7% of each quarter's leads are won, until the last quarter,
# where the share falls below 2%: not because the team got worse, but because
# those leads have not yet had the two months a win takes (their deals are
# still open). With a conversion window (`window="120D"`),
# `mature_only=True` counts only the leads whose window is over by the export
# date, so that young cohorts do not look like bad ones.
#
# What do the leads that stop after qualification do instead?
# `fk.next_events` lists the paths of events that follow the step where they
# dropped out.

# %%
paths = fk.next_events(sample.events, steps, after_step=3)
display(paths)
fk.plot_next_events(paths, ax=figure())
plt.show()

# %% [markdown]
# The commonest path after qualification is straight to *lost*; the next
# most common path is a *video view* and then lost — the sample plants no
# effect of video views, and indeed they do not keep these leads in the
# funnel. A *demo request* followed by a loss is rarer: demo requests are the
# behaviour that does move leads on (see *What moves leads forward*).
#
# ## Stage history
#
# CRMs record each move between stages. Deals skip stages and move backwards, so
# how a deal is counted matters: under the default `furthest` policy a deal
# counts at every stage up to the furthest it reached, and `skipped` says how
# many were counted at a stage without a recorded entry.

# %%
stages = fk.stage_conversion(sample.history, sample.stages)
display(stages)
fk.plot_stage_conversion(stages, ax=figure())
plt.show()

# %% [markdown]
# 57 deals went past *contact* without a recorded entry there: the history
# counts them at contact (`skipped`), where the ordered event funnel above
# lost them, so contact's conversion from qualification is higher here
# (63.6%) than in the event funnel (58.8%). The last step, *retention*,
# comes after the sale: about a third of the deals that reached negotiation
# are customers now.
#
# How long do deals stay at each stage? `fk.time_in_stage` counts every
# visit, including the ones still going on (censored at the export date).

# %%
stays = fk.time_in_stage(sample.history, sample.stages, deals=sample.deals)
display(stays)
fk.plot_time_in_stage(stays, ax=figure())
plt.show()

# %% [markdown]
# Deals spend the longest at prospecting (median about 16 days — the
# outreach) and at negotiation (about 21 days). `median` counts the stays
# still going on as censored; `naive_median`, over finished stays only, is
# shorter wherever many deals are still sitting in the stage, because the
# long stays are the ones not finished yet.
#
# What is in the pipeline now? `fk.pipeline` counts the open deals at each
# stage, their value, and each stage's chance of ending in a win, measured
# from the closed deals that passed through it.

# %%
pipe = fk.pipeline(sample.deals, stages=sample.stages, history=sample.history)
display(pipe)
fk.plot_pipeline(pipe, ax=figure())
plt.show()

# %% [markdown]
# 230 deals are open, worth 6.1 million at face value, but most of it sits
# at prospecting, where only about 6% of deals end in a win: weighted by each
# stage's win probability the pipeline is worth about 0.9 million. The deals
# at negotiation are few, but two in three of them close as wins.
#
# ## Who wins: channels and reps
#
# The win rate of closed deals (won / (won + lost)) by acquisition channel.

# %%
fk.win_rate(sample.deals, by="channel")

# %% [markdown]
# Referral wins 13.4% of its closed deals and outbound email 1.2%: the
# sample's planted truth (referral best, outbound email worst), and the
# intervals do not overlap — the gap is far larger than the noise. Partner
# and events are good channels too.
#
# Ranking reps by their raw win rate rewards luck on small numbers. The
# leaderboard ranks by a win rate shrunk toward the team's (empirical Bayes).

# %%
board = fk.leaderboard(sample.deals)
display(board)
fk.plot_leaderboard(board, ax=figure())
plt.show()

# %% [markdown]
# Gus Larsen has the highest raw win rate (12 of 139 closed deals, 8.6%),
# but on so few deals the interval is wide and the shrunk rate ranks him
# second, behind Ana Souza (45 wins of 575). The sample plants Gus as the
# most skilled rep; if his raw rate held over more deals, his shrunk rate
# would move up towards it — the leaderboard does not claim more than the
# data shows.
#
# Which channel pays? `fk.channel_yield` sets the revenue of each channel's
# won deals against what its leads cost.

# %%
yields = fk.channel_yield(sample.deals, costs=sample.costs)
display(yields)
fk.plot_channel_yield(yields, ax=figure())
plt.show()

# %% [markdown]
# Partner leads bring the most revenue (1.36 million), but referral brings
# the best return on its cost: its leads are cheap and convert best. Paid
# search and outbound email are the weakest: the fewest wins per lead and
# the highest cost per won deal.
#
# ## How long deals take
#
# Time from creation to a win. `naive_median` is the figure a CRM shows (won
# deals only); `median` accounts for the deals still open (censored) and the
# ones lost (a competing outcome).

# %%
cycle = fk.sales_cycle(sample.deals, by="company_size")
display(cycle)
fk.plot_sales_cycle(cycle, ax=figure())
plt.show()

# %% [markdown]
# About two months whatever the company size; the medians that count the
# open deals are up to a few days longer than the naive ones, because the deals
# still open at the export date are, by definition, the slow ones.
#
# `fk.win_curve` gives the chance that a deal is won within a given time of
# its creation, with lost deals as a competing outcome (cumulative
# incidence).

# %%
curve = fk.win_curve(sample.deals, by="company_size")
fk.plot_win_curve(curve, ax=figure())
plt.show()

# %% [markdown]
# Hardly any deal is won in its first month; the curves rise over the second
# and third months and then flatten. Small companies end with the highest
# chance of a win (about 7%), enterprises the lowest (about 3%) — but an
# enterprise deal is worth about ten times a small one, so per deal the
# enterprises still bring the most revenue.
#
# ## How many touches it takes
#
# Of the leads that received an n-th email, call or meeting (and had not
# replied positively before), how many replied positively to it? The
# discrete hazard of a positive reply, with the leads lost or still waiting
# counted as censored.

# %%
touches = fk.touches_to_response(sample.touches, positive="positive")
display(touches)
fk.plot_touches(touches, ax=figure())
plt.show()

# %% [markdown]
# About one lead in ten replies positively to the first touch, and about as
# many at the second and third; from the fourth touch on the rate falls
# (the sample plants a 28% fall per touch). 84% of all positive replies came
# within the first four touches, so a fifth to eighth attempt adds little.
#
# ## What moves leads forward
#
# Among leads that reached *qualification*, did those who requested a demo
# move on to *contact* more often? `triggers` compares, for each behaviour, the
# conversion of those who did it with those who did not (odds ratio, Fisher
# test, Holm-adjusted).

# %%
behaviours = [
    "content download",
    "demo request",
    "free trial",
    "newsletter open",
    "video view",
    "webinar",
]
effects = fk.triggers(sample.events, steps, at_step=3, candidates=behaviours)
display(effects)
fk.plot_triggers(effects, ax=figure())
plt.show()

# %% [markdown]
# The sample plants a real effect for *demo request* and none for *video
# view* — and that is what comes out: the leads that requested a demo moved
# on clearly more often (an odds ratio well above 1, with an interval that
# excludes 1, and a tiny adjusted p-value), those that watched a video about
# as often as the others. The four other behaviours never happen during
# qualification in the sample, so they are flagged `small_sample` rather than
# tested. This is association, not causation: the leads that ask for a demo
# may be the keener ones.
#
# ## Deals to act on
#
# Open deals that sit in their stage longer than 90% of past stays there, by
# value at risk:

# %%
fk.stalled(sample.history, sample.stages, deals=sample.deals).head(10)

# %% [markdown]
# Most stalled deals are at *proposal* — where the sample plants its stalls —
# and some have been sitting there more than twice as long as nine past stays
# in ten: these are the deals to call about first, ranked by the value at
# stake.
#
# And lost deals worth another try (a late stage, a recoverable reason, high
# value):

# %%
fk.revival_candidates(sample.deals, history=sample.history, stages=sample.stages).head(10)

# %% [markdown]
# The candidates all reached negotiation and were lost for a reason that can
# change ("no decision", timing, budget) rather than to a competitor or for
# not being a fit; the `why` column says, for each, why it is on the list.
#
# ## A plan for the rest of the year
#
# How many new deals does each stage need to win another 1,000,000 by the end
# of 2025? `fk.plan` measures every rate, the deal sizes and the time to
# close from the data, and subtracts what the open pipeline is expected to
# bring (the planning notebook goes through it step by step).

# %%
plan = fk.plan(
    sample.deals,
    1_000_000,
    history=sample.history,
    stages=list(sample.stages[:-1]),
    period_end="2025-12-31",
    as_of=sample.as_of,
)
display(plan)
fk.plot_plan(plan, ax=figure())
plt.show()

# %% [markdown]
# The open pipeline alone is expected to cover the target (`needed` is 0 at
# every stage), but only in about three periods out of four (`p_hit_target`):
# for 90% confidence, about 120 more new leads must enter by the end of
# August. The `enter_by` dates are the latest a deal can enter each stage and
# still be expected to close in time.
#
# ## The report
#
# `fk.report` runs every analysis the given tables allow and writes one
# self-contained `report.html` (pictures embedded, no network needed) plus a
# CSV file per table and a PNG file per picture. Each table is exactly what the
# public function returns for the same tables; a part whose inputs are missing,
# or whose precondition fails (no won deals yet), is listed as skipped, with
# the reason.

# %%
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

# %% [markdown]
# One HTML page to send around, and the same tables as CSV files for a
# spreadsheet: the analyses above, in one call.
