"""The deal-metrics section of ``funnelkit demo`` (see :mod:`funnelkit._demo`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from funnelkit.deals import (
    channel_yield,
    coverage,
    deal_size,
    leaderboard,
    pipeline,
    sales_cycle,
    sales_velocity,
    win_rate,
)


def deal_metrics(sample: Any) -> list[tuple[str, pd.DataFrame]]:
    """Pipeline, win rate, deal size, cycle, velocity, coverage, reps, channels."""
    deals, as_of = sample.deals, sample.as_of
    # next quarter's target: its revenue a year earlier, plus 20%
    next_end = (as_of + pd.offsets.QuarterEnd(1)).normalize()
    year_ago = deals[
        (deals["status"] == "won")
        & (deals["closed_at"] > as_of - pd.DateOffset(years=1))
        & (deals["closed_at"] <= next_end - pd.DateOffset(years=1))
    ]
    target = round(1.2 * float(year_ago["amount"].sum()), -4)
    cover = coverage(deals, target, as_of=as_of, period_end=next_end)
    return [
        (
            "Open pipeline by stage (probabilities measured from the stage history)",
            pipeline(deals, list(sample.stages), history=sample.history, as_of=as_of),
        ),
        ("Win rate by channel (closed deals)", win_rate(deals, by="channel")),
        (
            "Win rate of all deals created, by company size",
            win_rate(deals, basis="created", by="company_size"),
        ),
        ("Deal size of won deals by company size", deal_size(deals, by="company_size")),
        (
            "Sales cycle to a win by company size",
            sales_cycle(deals, by="company_size", as_of=as_of),
        ),
        ("Sales velocity by region", sales_velocity(deals, by="region", as_of=as_of)),
        (f"Coverage of next quarter's target of {target:,.0f}", cover),
        ("Rep leaderboard", leaderboard(deals, as_of=as_of)),
        ("Channel yield with costs", channel_yield(deals, costs=sample.costs)),
    ]
