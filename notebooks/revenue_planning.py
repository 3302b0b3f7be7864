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
# # Revenue planning: how many deals do we need — and how likely is the plan?
#
# "We must make 1,000,000 next quarter. How many deals do we need at each
# stage?" The usual answer is a reverse funnel: target ÷ average deal size ÷
# win rate ÷ each stage's conversion. This notebook builds it from the sample's
# own history and then asks the question CRM dashboards skip: **how likely is
# that plan to hit the target?** (Answer: about half the time, by
# construction.)

# %%
import matplotlib.pyplot as plt
import numpy as np

import funnelkit as fk

sample = fk.datasets.load_sample()
deals = sample.deals
target = 1_000_000

# %% [markdown]
# ## Inputs measured from the data
#
# Win rate of *closed* deals (won / (won + lost)) and the size of won deals.
# Deal sizes are skewed: the mean is well above the median, which matters
# below.

# %%
closed = deals[deals["status"].isin(["won", "lost"])]
win_rate = (closed["status"] == "won").mean()
won_amounts = deals.loc[deals["status"] == "won", "amount"].to_numpy()
avg_deal = won_amounts.mean()
print(f"win rate {win_rate:.1%} of {len(closed):,} closed deals")
print(f"won deal size: mean {avg_deal:,.0f}, median {np.median(won_amounts):,.0f}")

# %% [markdown]
# The sample's team wins 5.1% of its closed deals (193 of 3,770); the deals
# still open are left out, not counted as losses. A won deal is worth
# 24,691 on average but 11,000 at the median: a few large enterprise deals
# pull the mean up.

# %% [markdown]
# ## The naive plan
#
# Won deals needed = ceil(target / mean deal size); deals needed before that =
# ceil(won / win rate).

# %%
won_needed = int(np.ceil(target / avg_deal))
opps_needed = int(np.ceil(won_needed / win_rate))
print(f"{won_needed} won deals from {opps_needed} new deals")

# %% [markdown]
# The reverse funnel: 41 wins of an average size make the target, and at a
# 5.1% win rate they take 801 new deals. Every number in it is an average,
# and that is the catch.

# %% [markdown]
# ## How likely is the naive plan?
#
# With `opps_needed` opportunities each won with probability `win_rate`, and
# won amounts drawn from the observed amounts, revenue is a random sum. A Monte
# Carlo estimate of the chance it reaches the target:

# %%
rng = np.random.default_rng(0)


def simulate(n_deals, n_sims):
    """Revenue of n_deals new deals in n_sims simulated quarters."""
    wins = rng.binomial(n_deals, win_rate, size=n_sims)
    amounts = rng.choice(won_amounts, size=(n_sims, wins.max()))
    return np.where(np.arange(wins.max()) < wins[:, None], amounts, 0.0).sum(axis=1)


revenue = simulate(opps_needed, 20_000)
print(f"P(revenue >= target) = {(revenue >= target).mean():.0%}")

# %% [markdown]
# Just under half: a plan built from averages lands on either side of its
# target about equally often. (Slightly less than half, because revenue is
# skewed: its median is below its mean.)

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.hist(revenue, bins=60, color="#0072B2")
ax.axvline(target, color="#D55E00", lw=2, label="target")
ax.set_xlabel("revenue from the plan's opportunities")
ax.set_ylabel("simulations")
ax.xaxis.set_major_formatter("{x:,.0f}")
ax.legend()
plt.show()

# %% [markdown]
# The simulated revenue is centred on the target and wide: one simulated
# quarter in ten falls a third or more short of it, one in ten beats it by
# more than a third. The spread comes from both the number of wins
# (binomial) and the size of each (a few large deals).

# %% [markdown]
# ## Opportunities needed for 90% confidence
#
# Increase the number of opportunities until the target is reached in 90% of
# the simulations.

# %%
n = opps_needed
while (simulate(n, 5_000) >= target).mean() < 0.9:
    n += 10
print(f"about {n} new deals (vs {opps_needed} in the naive plan)")

# %% [markdown]
# About 40% more new deals than the naive plan, for the target to be reached
# nine times in ten. (A rough search: steps of 10 and 5,000 simulations per
# step.)

# %% [markdown]
# ## The same with funnelkit
#
# `fk.deals_needed` gives the expected-value plan, the counts needed for a
# chosen confidence and the chance that the expected-value plan works —
# exactly (binomial) for counts, by Monte Carlo over the observed deal sizes
# when `deal_size_sample` is given.

# %%
fk.deals_needed(
    target, avg_deal=avg_deal, win_rate=win_rate, confidence=0.9, deal_size_sample=won_amounts
)

# %% [markdown]
# The same answers as the hand-made simulation: 801 opportunities (41 wins)
# for the expected-value plan, which works about half the time, and about
# 1,100 opportunities for 90% confidence — the search above, done properly.

# %% [markdown]
# `fk.target_probability` answers the reverse question: with this many new
# deals, how likely is the target?

# %%
fk.target_probability(target, n=opps_needed, win_rate=win_rate, deal_size_sample=won_amounts)

# %% [markdown]
# With the naive plan's 801 new deals: about 41 expected wins, expected
# revenue a little above the target, and a probability just under one half,
# with the Monte Carlo standard error beside it.

# %% [markdown]
# ## A plan measured from the data
#
# `fk.plan` measures everything from the deal table and the stage history —
# each stage's conversion, the win rate, the deal sizes, how long deals take
# from each stage — and says how many deals each stage needs, *when* they must
# enter it to close before the end of the period, and what the open pipeline
# already covers. (Retention comes after the sale, so it is not a stage of the
# plan.)

# %%
plan = fk.plan(
    deals,
    target,
    history=sample.history,
    stages=list(sample.stages[:-1]),
    period_end="2025-12-31",
    as_of=sample.as_of,
)
plan

# %% [markdown]
# **Reading it.** `needed` is the expected-value plan *net of the open
# pipeline*: how many new deals must enter each stage on top of what is already
# open. When it is 0, the open deals alone are expected to cover the target —
# but `p_hit_target` says how often that actually happens. `needed_for_confidence`
# is how many new deals each stage needs to reach the target with 90%
# probability, and `enter_by` the latest date they can enter that stage and
# still close by the end of the period (`time_left` negative: too late).

# %%
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_plan(plan, ax=ax)
plt.show()

# %% [markdown]
# The bars are the new deals each stage needs for 90% confidence. They grow
# from the close back to the first stage, where about 120 new leads are
# needed — far fewer than the 801 of the naive plan above, because that plan
# started from nothing, while this one counts on the 230 deals already open.
