"""Pictures of funnelkit results (matplotlib).

Each ``plot_<name>`` takes the result table of the function ``<name>``, draws
on ``ax`` (default ``plt.gca()``), returns the Axes and never calls
``plt.show()`` or changes global style.  pyplot is imported inside the
functions, so importing funnelkit does not pick a backend.
"""

from __future__ import annotations

__all__: list[str] = []
