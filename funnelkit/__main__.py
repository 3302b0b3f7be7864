"""``python -m funnelkit``: the same as the ``funnelkit`` command."""

from __future__ import annotations

import sys

from funnelkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
