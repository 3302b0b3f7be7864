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
# # How many calls does it take to sell a term deposit?
#
# A real public dataset: the **UCI Bank Marketing** data — phone campaigns of a
# Portuguese bank (May 2008 – November 2010) selling term deposits. One row per
# client: `campaign` is the number of calls made to that client during the
# campaign (including the last one), `y` whether the client subscribed.
#
# funnelkit bundles a small extract (UCI's own 10% random sample, 4,521
# clients, a subset of the columns): `fk.datasets.load_bank_marketing()`.
#
# **Source and licence.** UCI Machine Learning Repository, dataset 222 "Bank
# Marketing", by S. Moro, P. Cortez and P. Rita, licensed under CC BY 4.0
# (https://doi.org/10.24432/C5K306). Cite: S. Moro, R. Laureano and P. Cortez,
# *Using Data Mining for Bank Direct Marketing: An Application of the CRISP-DM
# Methodology*, ESM'2011, pp. 117–121. The changes made for the extract are
# listed in `funnelkit/data/README.md`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import funnelkit as fk

bank = fk.datasets.load_bank_marketing()
print(f"{len(bank):,} clients, {(bank['y'] == 'yes').mean():.1%} subscribed")
bank.head()

# %% [markdown]
# 4,521 clients, of whom 521 (11.5%) subscribed. Besides `campaign` and `y`,
# the extract keeps a few of the client's attributes (age, job, marital
# status, education), how and in which month they were last contacted, and
# the contacts and outcome of an earlier campaign (`previous`, `poutcome`).
#
# ## The naive view and why it misleads
#
# The obvious table — subscription rate by the number of calls — mixes two
# questions. A client called five times who subscribed needed five calls; a
# client called five times who did not may have been given up on. The honest
# question is a **discrete hazard**: of the clients who were called an n-th
# time (and had not subscribed before), how many subscribed at that call?
#
# The data has one row per client, not one row per call. The documented
# assumption (the same `touches_from_counts` makes): a subscription, if any,
# came at the last call. So a client with `campaign = 3` and `y = yes` was
# called three times and said yes at the third; with `y = no`, three calls and
# no yes (censored at 3).

# %%
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

# %% [markdown]
# **Reading it.** About 5% of the clients still in play subscribe at each of
# the first two calls (240 of 4,521 at the first, 138 of 2,787 at the
# second), about 4% at the third and fourth, and then the rate drops to
# 1–3%. Almost half of all subscribers (46%) said yes at the first call, 83%
# by the third and 92% by the fourth. `cumulative` is what a naive
# "subscribed by call n" misses: 26% of the clients would have subscribed by
# the twelfth call if every one of them had been called that often — far
# more than the 11.5% who did, because most clients were given up on early.
#
# The same in a picture:

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.bar(hazard["touch"], hazard["rate"], color="#0072B2", label="subscribed at this call")
ax2 = ax.twinx()
ax2.plot(
    hazard["touch"],
    hazard["share_of_responders"],
    color="#E69F00",
    marker="o",
    label="share of all subscribers reached",
)
ax.set_xlabel("call number")
ax.set_ylabel("rate at this call")
ax2.set_ylabel("cumulative share of subscribers")
ax.yaxis.set_major_formatter("{x:.0%}")
ax2.yaxis.set_major_formatter("{x:.0%}")
ax.set_xticks(hazard["touch"])
fig.legend(loc="upper right")
plt.show()

# %% [markdown]
# The bars (the rate at each call) fall after the fourth call; the line (the
# share of all subscribers reached by that call) is almost flat after it:
# the bank's long tail of ten or more calls (157 clients) brought 6
# subscriptions.
#
# ## The same with funnelkit
#
# `fk.touches_from_counts` expands the one-row-per-client table into a touch
# log (touch 1..campaign, and a `y` column that is True only at the last touch
# of a subscriber) and `fk.touches_to_response` computes the hazard table — with
# Wilson intervals, and the censored clients counted. It agrees with the
# hand-made table above, number for number.

# %%
log = fk.touches_from_counts(
    bank, entity="client_id", contacts="campaign", response="y", positive="yes"
)
curve = fk.touches_to_response(log, entity="client_id", time="touch", response="y", positive=True)
check = curve.head(n_max)
assert (check["at_risk"].to_numpy() == hazard["at_risk"].to_numpy()).all()
assert (check["responded"].to_numpy() == hazard["responded"].to_numpy()).all()
assert np.allclose(check["cumulative"], hazard["cumulative"])
curve.head(n_max)

# %% [markdown]
# The asserts above passed: funnelkit's `at_risk`, `responded` and
# `cumulative` are the hand-made ones. It adds what the hand-made table did
# not have: the clients `censored` at each call (called n times, never
# subscribed) and a Wilson interval for each rate — wide from the fifth call
# on, where few clients are left.
#
# `fk.plot_touches` draws the table:

# %%
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_touches(curve.head(n_max), ax=ax)
plt.show()

# %% [markdown]
# The rate at each call with its interval, and the cumulative share: the
# intervals of the later calls are wide and overlap one another, so the data
# cannot tell a 1% call from a 3% one there — only that both are far below
# the first calls.
#
# `fk.touches_summary` puts the whole campaign in one row:

# %%
fk.touches_summary(log, entity="client_id", time="touch", response="y", positive=True)

# %% [markdown]
# Subscribers needed 2 calls at the median (2.3 on average), and the
# response rate per call is below 5% from the second call on, so the last
# call worth making at the default 5% threshold (`stop_after`) is the first.
# Whether a second call is worth it depends on what a call costs and what a
# subscription brings: at 5.0% the second call still converts one client in
# twenty.
#
# ## Whom is a call worth?
#
# The extract keeps the outcome of the bank's *previous* campaign for each
# client (`poutcome`: `success`, `failure`, `other`, or `unknown` for the
# clients it had not contacted). `by=` splits the summary and the hazard
# table by it.

# %%
past = log.merge(bank[["client_id", "poutcome"]], on="client_id", validate="many_to_one")
fk.touches_summary(
    past, entity="client_id", time="touch", response="y", positive=True, by="poutcome"
)

# %% [markdown]
# The 129 clients who had subscribed in the previous campaign subscribed
# again 64.3% of the time; of the 3,705 clients the bank had never called
# before, 9.1% did. Those two groups are different campaigns in all but
# name: for the new clients, `stop_after` is 0 — even the first call
# converts fewer than one in twenty — while for the past subscribers no
# call number falls below the 5% threshold (NaN).
#
# Call by call, for the first four calls (where each group still has
# clients to count):

# %%
by_past = fk.touches_to_response(
    past,
    entity="client_id",
    time="touch",
    response="y",
    positive=True,
    by="poutcome",
    max_touches=4,
)
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
fk.plot_touches(by_past, ax=ax)
plt.show()

# %% [markdown]
# The first call to a past subscriber succeeds 38.8% of the time, the first
# call to a new client 3.6%: a tenfold difference, far outside both
# intervals. The clients of a failed previous campaign (7.6% at the first
# call) sit in between. A bank with few callers would start with its past
# subscribers — and a second or third call to them is still worth more than
# a first call to anybody else.
#
# Caveat: this is observational data. The bank chose whom to call again, so the
# falling rate mixes "more calls stop working" with "the clients called often
# are the hard ones"; and past subscribers differ from new clients in more
# than their history with the bank.
