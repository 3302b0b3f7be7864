"""Helpers shared by every plot: the Axes, literal labels, palette, layout, number formats.

The rules every ``plot_*`` follows, so a picture reads from 1 to 50 groups:

- user strings (steps, stages, groups, reps, channels) go through :func:`label`:
  cut with an ellipsis past :data:`MAX_LABEL` characters and drawn as
  literal text (a ``$`` is never mathtext);
- a missing group is :data:`MISSING` in every picture;
- colours identify at most :data:`MAX_COLORS` groups (the Okabe–Ito palette,
  all distinct); a result with more groups is drawn in a form that does not
  need colours to tell them apart (rows or a heatmap);
- a figure without a layout engine gets ``layout="constrained"``, so labels
  are not clipped; rows of text are fitted to the height of the Axes
  (:func:`fit_rows`);
- every picture has a title naming the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit._validate import require_columns
from funnelkit.errors import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Text

#: Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008), black last.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Most groups told apart by colour; past it a plot uses rows or a heatmap.
MAX_COLORS = len(PALETTE)

#: The label of a group whose key is missing (NaN, None, NaT), in every picture.
MISSING = "(missing)"

#: Longest label drawn in full; longer ones end with an ellipsis.
MAX_LABEL = 32

#: Smallest font (points) a row of text is shrunk to before rows are thinned out.
MIN_FONT = 6.0

#: Font sizes (points) of tick labels and of annotations before fitting.
TICK_FONT = 9.0
NOTE_FONT = 8.0


def get_ax(ax: Axes | None, *, rows: int = 0) -> Axes:
    """The Axes to draw on.

    ``ax`` itself when given; else the current Axes (``plt.gca()``) when a
    figure is open; else a new figure with ``layout="constrained"``, tall
    enough for ``rows`` rows of labels.  A figure without a layout engine
    gets ``layout="constrained"`` so that no label is clipped.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        if plt.get_fignums():
            ax = plt.gca()
        else:
            height = min(max(3.0, 1.8 + 0.22 * rows), 14.0) if rows else 4.5
            ax = plt.figure(figsize=(8.0, height), layout="constrained").subplots()
    fig = root_figure(ax)
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    return ax


def root_figure(ax: Axes) -> Any:
    """The Figure of ``ax`` (the top one when ``ax`` is in a SubFigure)."""
    return ax.figure.figure


def color(i: int) -> str:
    """The i-th palette colour (cycling; plots never cycle past :data:`MAX_COLORS` groups)."""
    return PALETTE[i % len(PALETTE)]


def literal(text: Any) -> str:
    r"""``text`` as a string matplotlib draws literally: every ``$`` escaped (no mathtext).

    Examples
    --------
    >>> print(literal("$ales"))
    \$ales
    """
    return str(text).replace("$", r"\$")


def shorten(text: Any, width: int = MAX_LABEL) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis.

    Examples
    --------
    >>> shorten("negotiation and close", 12)
    'negotiation…'
    """
    s = str(text)
    return s if len(s) <= width else s[: width - 1].rstrip() + "…"


def label(text: Any, width: int = MAX_LABEL) -> str:
    """A user string ready to draw: shortened (:func:`shorten`), then :func:`literal`."""
    return literal(shorten(text, width))


def legend_label(text: Any, width: int = MAX_LABEL) -> str:
    """:func:`label` that matplotlib does not hide from a legend (a leading ``_``)."""
    s = label(text, width)
    return "\u200b" + s if s.startswith("_") else s


def group_keys(frame: pd.DataFrame, by: Sequence[Any], sep: str = " / ") -> np.ndarray[Any, Any]:
    """One text key per row from the ``by`` columns, :data:`MISSING` for a missing value."""
    if not by:
        return np.full(len(frame), "", dtype=object)
    parts = [
        frame[b].astype(object).where(frame[b].notna(), MISSING).astype(str).to_numpy() for b in by
    ]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + sep + p.astype(object)
    return np.asarray(out, dtype=object)


def by_title(by: Sequence[Any]) -> str:
    """Legend title of the ``by`` columns."""
    return label(" / ".join(str(b) for b in by))


def check_result(result: Any, columns: list[str], *, func: str, source: str) -> pd.DataFrame:
    """Check that ``result`` is the result table of ``source`` (has its columns)."""
    if not isinstance(result, pd.DataFrame):
        msg = (
            f"The 'result' parameter of {func} must be the DataFrame returned by "
            f"funnelkit.{source}. Got {type(result).__name__} instead."
        )
        raise InvalidParameterError(msg)
    for column in columns:
        require_columns(result, {"result": column}, table=f"the {source} result")
    return result


def fmt_count(v: float) -> str:
    """``12345`` -> ``'12,345'``."""
    return "–" if pd.isna(v) else f"{v:,.0f}"


def fmt_pct(v: float, digits: int = 1) -> str:
    """``0.1234`` -> ``'12.3%'``."""
    return "–" if pd.isna(v) else f"{v:.{digits}%}"


def fmt_money(v: float) -> str:
    """Compact money: ``1234567`` -> ``'1.23M'``, ``45600`` -> ``'45.6k'``."""
    if pd.isna(v):
        return "–"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}"


def fmt_plain(v: float) -> str:
    """A tick of a log axis in plain numbers: ``0.5``, ``2``, ``1,000`` (never ``10^0``)."""
    if v == 0 or not np.isfinite(v):
        return "0"
    if abs(v) >= 1:
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    digits = max(1, -math.floor(math.log10(abs(v))))
    return f"{v:.{digits}f}"


def percent_axis(axis: Any) -> None:
    """Ticks as percentages of 1 (``25%``)."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0))


def count_axis(axis: Any) -> None:
    """Ticks as counts with thousands separators."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_count(v)))


def money_axis(axis: Any) -> None:
    """Ticks as compact money (``1.2M``)."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_money(v)))


def plain_log_axis(axis: Any, low: float | None = None, high: float | None = None) -> None:
    """A log axis with plain-number ticks (``0.5, 1, 2, 5``) and no minor labels.

    ``low`` and ``high`` (the data's range) choose the ticks: 1-2-5 within two
    decades, one tick per decade beyond, at most about 7 ticks.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = 1.0
    if low is not None and high is not None and low > 0 and high > low:
        decades = math.log10(high / low)
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    axis.set_major_locator(LogLocator(base=10.0, subs=subs, numticks=7))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_plain(v)))
    axis.set_minor_formatter(NullFormatter())


def set_title(ax: Axes, title: str, width: int = 60) -> None:
    """The title naming the result, left-aligned, on two lines of ``width`` characters at most."""
    import textwrap

    lines = textwrap.wrap(str(title), width, break_long_words=True)
    text = lines[0] if len(lines) <= 1 else lines[0] + "\n" + shorten(" ".join(lines[1:]), width)
    ax.set_title(literal(text), loc="left", fontsize="medium", fontweight="bold")


def legend_outside(ax: Axes, *, title: str | None = None, ncols: int = 1) -> None:
    """The legend right of the Axes (it never covers data), when there is anything to show."""
    handles, _labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize="small",
        title=title,
        title_fontsize="small",
        ncols=ncols,
        alignment="left",
    )


def legend_below(ax: Axes, *, ncols: int = 2) -> None:
    """The legend under the Axes, in at most ``ncols`` columns (fewer when the labels are long)."""
    from matplotlib.transforms import offset_copy

    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    longest = sorted((len(t) for t in labels), reverse=True)
    while ncols > 1 and sum(longest[:ncols]) * 5.0 + 30 * ncols > 380:
        ncols -= 1
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, 0.0),
        bbox_transform=offset_copy(ax.transAxes, fig=root_figure(ax), y=-32, units="points"),
        frameon=False,
        fontsize="small",
        ncols=ncols,
        borderaxespad=0.0,
    )


def _axes_height_pt(ax: Axes) -> float:
    """Height of the Axes in points, after the figure's layout has run."""
    fig = root_figure(ax)
    fig.draw_without_rendering()
    return float(ax.get_window_extent().height) * 72.0 / float(fig.dpi)


#: Tallest row (points) of a row chart; a chart of few rows is made shorter.
MAX_PITCH = 56.0


def fit_rows(
    ax: Axes,
    notes: Sequence[Text] = (),
    *,
    lines: int = 1,
    per_row: int = 1,
    compact: bool = False,
) -> None:
    """Fit the y tick labels and the row notes (one text per row) to the row pitch.

    The font shrinks from :data:`TICK_FONT` / :data:`NOTE_FONT` down to
    :data:`MIN_FONT`; when the rows are closer still, only every k-th label
    and note is shown, so that no two texts overlap.  ``lines`` is the number
    of text lines of the tallest tick label; ``per_row`` the number of notes
    stacked within one row (one per group of a grouped bar chart).  With
    ``compact``, a chart of few rows is made shorter (at most
    :data:`MAX_PITCH` points a row) instead of drawing a tall empty frame.
    """
    lo, hi = sorted(ax.get_ylim())
    span = max(hi - lo, 1e-9)
    pitch = _axes_height_pt(ax) / span  # points per y unit (one row)
    if compact and pitch > MAX_PITCH:
        fig = root_figure(ax)
        width = float(ax.get_window_extent().width) * 72.0 / float(fig.dpi)
        ax.set_box_aspect(span * MAX_PITCH / max(width, 1.0))
        pitch = MAX_PITCH
    ticks = ax.get_yticklabels()
    fit = pitch / (1.3 * max(lines, 1))
    tick_size = min(TICK_FONT, fit)
    note_size = min(NOTE_FONT, pitch / (1.3 * max(per_row, 1)))
    step = 1
    if tick_size < MIN_FONT or note_size < MIN_FONT:
        step = math.ceil(MIN_FONT * 1.3 * max(lines, per_row, 1) / max(pitch, 1e-9))
        tick_size = max(tick_size, MIN_FONT)
        note_size = max(note_size, MIN_FONT)
    for i, t in enumerate(ticks):
        t.set_fontsize(tick_size)
        if step > 1 and i % step:
            t.set_visible(False)
    for t in notes:
        t.set_fontsize(note_size)
        if step > 1 and _row_of(t) % step:
            t.set_visible(False)
    if step > 1:
        # keep the visible subset through re-draws: fix the labels shown
        ax.tick_params(axis="y", labelsize=tick_size)
        shown = [t.get_text() if i % step == 0 else "" for i, t in enumerate(ticks)]
        ax.set_yticks(ax.get_yticks(), shown)


def _row_of(t: Text) -> int:
    """The row (integer y position in data units) a note is drawn at."""
    xy = getattr(t, "xy", None)
    y = xy[1] if xy is not None else t.get_position()[1]
    return round(float(y))


def fit_columns(ax: Axes, notes: Sequence[Text] = ()) -> None:
    """Fit the x tick labels (and one note per column) to the column pitch.

    A label too wide for its column is wrapped onto two lines; still too
    wide, the labels are turned upright (90°); when even upright they do not
    fit, only every k-th is shown.
    """
    import textwrap

    fig = root_figure(ax)
    fig.draw_without_rendering()
    lo, hi = sorted(ax.get_xlim())
    width_pt = float(ax.get_window_extent().width) * 72.0 / float(fig.dpi)
    pitch = width_pt / max(hi - lo, 1e-9)
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]

    def widest() -> float:
        return max(
            (t.get_window_extent().width * 72.0 / float(fig.dpi) for t in ticks), default=0.0
        )

    for t in ticks:
        t.set_fontsize(TICK_FONT)
    if widest() > pitch * 0.9:
        for t in ticks:
            text = t.get_text()
            if " " in text and "\n" not in text:
                t.set_text("\n".join(textwrap.wrap(text, max(len(text) // 2 + 1, 6))[:2]))
        if widest() > pitch * 0.9:
            for t in ticks:
                t.set_text(t.get_text().replace("\n", " "))
                t.set_rotation(90)
                t.set_fontsize(min(TICK_FONT, max(MIN_FONT, pitch / 1.3)))
            if pitch < MIN_FONT * 1.3:
                step = math.ceil(MIN_FONT * 1.3 / pitch)
                for i, t in enumerate(ticks):
                    if i % step:
                        t.set_visible(False)
    # the formatter re-sets the texts at draw time: fix them as they are now
    positions = [t.get_position()[0] for t in ticks]
    shown = [t.get_text() if t.get_visible() else "" for t in ticks]
    rotation = ticks[0].get_rotation() if ticks else 0
    size = ticks[0].get_fontsize() if ticks else TICK_FONT
    if ticks:
        ax.set_xticks(positions, shown, rotation=rotation, fontsize=size)
    for t in notes:
        t.set_fontsize(min(NOTE_FONT, max(MIN_FONT, pitch / 1.3)))


def heatmap(
    ax: Axes,
    values: np.ndarray[Any, Any],
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    texts: np.ndarray[Any, Any] | None,
    cmap: str = "Blues",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: str = "",
    percent: bool = False,
    hatch: np.ndarray[Any, Any] | None = None,
) -> Axes:
    """A table of coloured cells: one row per group, one column per step.

    ``values`` (rows x columns) sets the colour, ``texts`` the words written
    in each cell (dropped when the cells are too small to hold them; the
    colour bar still reads the value).  ``hatch`` marks cells (True) with a
    hatched outline.  Rows and columns are :func:`label`-ed by the caller.
    """
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    data = np.ma.masked_invalid(np.asarray(values, dtype=float))
    n_rows, n_cols = data.shape
    cm = mpl.colormaps[cmap].with_extremes(bad="#eeeeee")
    image = ax.imshow(data, cmap=cm, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_yticks(np.arange(n_rows), list(rows))
    ax.set_xticks(np.arange(n_cols), list(columns))
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for spine in ax.spines.values():
        spine.set_visible(False)
    if hatch is not None:
        for (r, c), marked in np.ndenumerate(np.asarray(hatch, dtype=bool)):
            if marked:
                ax.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.45", lw=0
                    )
                )
    cbar = ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label=colorbar)
    if percent:
        percent_axis(cbar.ax.yaxis)
    cbar.ax.tick_params(labelsize="small")
    cbar.ax.yaxis.label.set_fontsize("small")
    fit_columns(ax)
    fit_rows(ax)
    if texts is not None:
        fig = root_figure(ax)
        fig.draw_without_rendering()
        box = ax.get_window_extent()
        cell_w = box.width * 72.0 / fig.dpi / n_cols
        cell_h = box.height * 72.0 / fig.dpi / n_rows
        longest = max((len(str(t)) for t in np.ravel(texts)), default=1)
        size = min(NOTE_FONT, cell_h / 1.45, cell_w / (0.8 * max(longest, 1)))
        if size >= MIN_FONT:
            scaled = np.ma.filled(image.norm(data), 0.0)  # 0..1 within the colour scale
            for (r, c), text in np.ndenumerate(np.asarray(texts, dtype=object)):
                dark = bool(float(scaled[r, c]) > 0.55)
                ax.text(
                    c, r, literal(text), ha="center", va="center", fontsize=size,
                    color="white" if dark else "black",
                )  # fmt: skip
    return ax


def footnote(ax: Axes, text: str) -> None:
    """A line of explanation under the Axes (below its x label)."""
    ax.annotate(
        text,
        (0.0, 0.0),
        xycoords="axes fraction",
        xytext=(0, -30),
        textcoords="offset points",
        va="top",
        ha="left",
        fontsize="small",
        color="0.3",
    )


def no_data(ax: Axes, text: str = "no entities") -> Axes:
    """An empty result: say so instead of drawing nothing."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
