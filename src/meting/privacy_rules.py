"""The disclosure-control constants that the analyses and the reports share.

:mod:`meting.knelpunten` marks small cells itself (the improvement agenda) and
:mod:`meting.report.privacy` blanks them in every report table; both name the flag column and the
default threshold from here, so the analyses never import the report side.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_MIN_CELL_SIZE", "SUPPRESSED"]

#: Fewest respondents behind a published value when ``settings.min_cell_size`` is not given.
DEFAULT_MIN_CELL_SIZE: Final = 30
#: Name of the boolean column that flags a suppressed (blanked) cell.
SUPPRESSED: Final = "onderdrukt"
