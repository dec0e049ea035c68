"""meting: citizens' ratings of government service around life events, against the cabinet's 7."""

from __future__ import annotations

__version__ = "0.1.0"
