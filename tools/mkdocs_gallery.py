"""mkdocs hook: draw the images of the Pictures page from the sample at build time.

Each ``img/plot_<name>.png`` that ``docs/pictures.md`` shows is computed from
``funnelkit.datasets.load_sample()`` and drawn by the plot function while the
site builds, so no image is stored in the repository. A picture that cannot
be drawn fails the build: there are no placeholders.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def gallery(fk: Any) -> dict[str, tuple[Callable[..., Any], Callable[[Any], Any]]]:
    """Image name -> (plot function, the computation of the table it draws from the sample)."""
    return {
        "plot_funnel": (fk.plot_funnel, lambda s: fk.conversion(s.events, steps(s))),
        "plot_dropoff": (fk.plot_dropoff, lambda s: fk.dropoff(s.events, steps(s))),
        "plot_time_to_convert": (
            fk.plot_time_to_convert,
            lambda s: fk.time_to_convert(s.events, steps(s)),
        ),
        "plot_conversion_over_time": (
            fk.plot_conversion_over_time,
            lambda s: fk.conversion_over_time(
                s.events, steps(s)[:3], period="M", window="30D", by="channel"
            ),
        ),
        "plot_next_events": (
            fk.plot_next_events,
            lambda s: fk.next_events(s.events, steps(s), after_step=2, depth=2),
        ),
        "plot_pipeline": (
            fk.plot_pipeline,
            lambda s: fk.pipeline(s.deals, stages=s.stages, history=s.history),
        ),
        "plot_sales_cycle": (
            fk.plot_sales_cycle,
            lambda s: fk.sales_cycle(s.deals, by="company_size"),
        ),
        "plot_win_curve": (fk.plot_win_curve, lambda s: fk.win_curve(s.deals, by="company_size")),
        "plot_leaderboard": (fk.plot_leaderboard, lambda s: fk.leaderboard(s.deals)),
        "plot_channel_yield": (
            fk.plot_channel_yield,
            lambda s: fk.channel_yield(s.deals, costs=s.costs),
        ),
        "plot_stage_conversion": (
            fk.plot_stage_conversion,
            lambda s: fk.stage_conversion(s.history, s.stages),
        ),
        "plot_time_in_stage": (
            fk.plot_time_in_stage,
            lambda s: fk.time_in_stage(s.history, s.stages, deals=s.deals),
        ),
        "plot_touches": (
            fk.plot_touches,
            lambda s: fk.touches_to_response(s.touches, positive="positive"),
        ),
        "plot_triggers": (fk.plot_triggers, lambda s: fk.triggers(s.events, steps(s), at_step=3)),
        "plot_plan": (
            fk.plot_plan,
            lambda s: fk.deals_needed(
                1_000_000,
                avg_deal=25_000,
                win_rate=0.25,
                stage_rates={"lead": 0.3, "qualified": 0.5},
                confidence=0.9,
            ),
        ),
    }


def steps(sample: Any) -> list[str]:
    """The sample's funnel: every stage up to the close, then ``won``."""
    return [*sample.stages[:-1], "won"]


def pictures() -> dict[str, bytes]:
    """PNG bytes of every picture of the gallery; any failure fails the build."""
    import funnelkit as fk
    from funnelkit._report import render_png

    # FUNNELKIT_GALLERY_LEADS: a smaller sample for quick test builds
    sample = fk.datasets.load_sample(n_leads=int(os.environ.get("FUNNELKIT_GALLERY_LEADS", 4000)))
    out: dict[str, bytes] = {}
    for name, (plot, compute) in gallery(fk).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fk.FunnelkitWarning)
            result = compute(sample)
        out[name] = render_png(lambda ax, plot=plot, result=result: plot(result, ax=ax))
    return out


def on_files(files: Any, config: Any) -> Any:
    """Add ``img/<plot>.png`` for each picture to the site's files."""
    from mkdocs.structure.files import File

    root = str(Path(config["config_file_path"]).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the checkout's funnelkit
    for name, png in pictures().items():
        files.append(File.generated(config, f"img/{name}.png", content=png))
    return files
