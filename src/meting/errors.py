"""The error classes of `meting`, defined in one place.

Every error a user can cause derives from :class:`MetingError`, so a command-line entry point can
catch it, print the message and exit non-zero without a traceback.
"""

from __future__ import annotations


class MetingError(Exception):
    """Base class of every error that `meting` raises on purpose."""


class SchemaError(MetingError, ValueError):
    """Input data does not follow the data contract (file, column, row and value in the message)."""


class ParameterError(MetingError, ValueError):
    """A parameter file is missing a field or holds an invalid value (file and field in the message)."""


class DesignError(MetingError, ValueError):
    """A survey design or a weighting request cannot be carried out as asked."""


class ConvergenceError(MetingError, RuntimeError):
    """An iterative procedure (raking, calibration, MCMC) did not converge."""


class ReportError(MetingError, RuntimeError):
    """Rendering a report failed (the notebook and cell are in the message)."""
