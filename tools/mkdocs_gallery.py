"""mkdocs hook: draw the images of the Pictures page from the sample at build time.

Each ``img/plot_<name>.png`` that ``docs/pictures.md`` shows is computed from
``funnelkit.datasets.load_sample()`` and drawn by the plot function while the
site builds, so no image is stored in the repository. A plot function this
version does not have yet gets a placeholder image saying so (the page's
links stay valid, and the strict build passes).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: plot function -> the computation of the result table it draws (sample, fk) -> DataFrame.
PICTURES: dict[str, Callable[[Any, Any], Any]] = {
    "plot_funnel": lambda s, fk: fk.conversion(s.events, steps(s)),
    "plot_dropoff": lambda s, fk: fk.dropoff(s.events, steps(s)),
    "plot_time_to_convert": lambda s, fk: fk.time_to_convert(s.events, steps(s)),
    "plot_pipeline": lambda s, fk: fk.pipeline(s.deals, s.stages, history=s.history),
    "plot_sales_cycle": lambda s, fk: fk.sales_cycle(s.deals, by="company_size"),
    "plot_win_curve": lambda s, fk: fk.win_curve(s.deals, by="company_size"),
    "plot_leaderboard": lambda s, fk: fk.leaderboard(s.deals),
    "plot_channel_yield": lambda s, fk: fk.channel_yield(s.deals, costs=s.costs),
    "plot_stage_conversion": lambda s, fk: fk.stage_conversion(s.history, s.stages),
    "plot_time_in_stage": lambda s, fk: fk.time_in_stage(s.history, s.stages),
    "plot_touches": lambda s, fk: fk.touches_to_response(s.touches, positive="positive"),
    "plot_triggers": lambda s, fk: fk.triggers(s.events, steps(s), at_step=3),
    "plot_plan": lambda s, fk: fk.deals_needed(
        1_000_000,
        deal_size=25_000,
        win_rate=0.25,
        stage_rates={"lead": 0.3, "qualified": 0.5},
        confidence=0.9,
    ),
}


def steps(sample: Any) -> list[str]:
    """The sample's funnel: every stage up to the close, then ``won``."""
    return [*sample.stages[:-1], "won"]


def placeholder(text: str) -> bytes:
    """A small PNG that says why the real picture is missing."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 1.2))
    fig.text(0.5, 0.5, text, ha="center", va="center", color="#616e7c")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, facecolor="white")
    return buf.getvalue()


def pictures() -> dict[str, bytes]:
    """PNG bytes of every picture of the gallery (or its placeholder)."""
    import funnelkit as fk
    from funnelkit._report import render_png

    # FUNNELKIT_GALLERY_LEADS: a smaller sample for quick test builds
    sample = fk.datasets.load_sample(n_leads=int(os.environ.get("FUNNELKIT_GALLERY_LEADS", 4000)))
    out: dict[str, bytes] = {}
    for name, compute in PICTURES.items():
        plot = getattr(fk, name, None)
        if plot is None:
            out[name] = placeholder(f"funnelkit.{name} is not available in this version yet")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = compute(sample, fk)
                out[name] = render_png(lambda ax, plot=plot, result=result: plot(result, ax=ax))
        except AttributeError as exc:  # the metric behind the plot has not landed yet
            out[name] = placeholder(f"not available in this version yet: {exc}")
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
