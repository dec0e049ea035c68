"""meting: citizens' ratings of government service around life events, against the cabinet's 7.

The survey core is imported here; every estimator returns the result table of :mod:`meting.results`.
The whole-wave pipeline is :mod:`meting.pipeline`; the Bayesian small-area models live in
:mod:`meting.sae` and the reports in :mod:`meting.report` (imported on demand, since they pull in
PyMC and Jupyter).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from meting.lazy import lazy_getattr

# PyTensor's BLAS probe warns on machines without libopenblas-dev; the small-area models have no
# large matrix products, so the warning is noise in every process that imports PyTensor through
# meting (report kernels, Dask workers, the CLI). Filtered once here, before any such import.
warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*", category=UserWarning)

#: Public name -> the module that defines it. Imported on first use (PEP 562), so a command such
#: as ``meting validate`` does not pay for SciPy, statsmodels or the estimators at start-up.
_EXPORTS: dict[str, str] = {
    "ConvergenceError": "meting.errors",
    "DesignError": "meting.errors",
    "MetingError": "meting.errors",
    "ParameterError": "meting.errors",
    "RESULT_COLUMNS": "meting.results",
    "RESULT_COLUMN_DOCS": "meting.results",
    "Registry": "meting.registry",
    "ReplicateDesign": "meting.replicate",
    "ReportError": "meting.errors",
    "SchemaError": "meting.errors",
    "SurveyDesign": "meting.design",
    "SyntheticWave": "meting.synthetic",
    "WaveData": "meting.loaders",
    "WeightingRecord": "meting.design",
    "WeightingReport": "meting.weighting",
    "bayes_improvement": "meting.comparison",
    "bayes_verdicts": "meting.significance",
    "calibrate": "meting.weighting",
    "compare_waves": "meting.comparison",
    "contrast": "meting.contrast",
    "design_for_wave": "meting.wave_weighting",
    "effective_n": "meting.weighting",
    "generate_wave": "meting.synthetic",
    "kish_deff": "meting.weighting",
    "load_registry": "meting.registry",
    "load_wave": "meting.loaders",
    "margin_gaps": "meting.weighting",
    "poststratify": "meting.weighting",
    "rake": "meting.weighting",
    "result_table": "meting.results",
    "test_against_target": "meting.significance",
    "trim": "meting.weighting",
    "validate_files": "meting.validate",
}

if TYPE_CHECKING:  # the names as the type checker and editors see them
    from meting.comparison import bayes_improvement, compare_waves
    from meting.contrast import contrast
    from meting.design import SurveyDesign, WeightingRecord
    from meting.errors import (
        ConvergenceError,
        DesignError,
        MetingError,
        ParameterError,
        ReportError,
        SchemaError,
    )
    from meting.loaders import WaveData, load_wave
    from meting.registry import Registry, load_registry
    from meting.replicate import ReplicateDesign
    from meting.results import RESULT_COLUMN_DOCS, RESULT_COLUMNS, result_table
    from meting.significance import bayes_verdicts, test_against_target
    from meting.synthetic import SyntheticWave, generate_wave
    from meting.validate import validate_files
    from meting.wave_weighting import design_for_wave
    from meting.weighting import (
        WeightingReport,
        calibrate,
        effective_n,
        kish_deff,
        margin_gaps,
        poststratify,
        rake,
        trim,
    )


__getattr__ = lazy_getattr("meting", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_COLUMN_DOCS",
    "bayes_improvement",
    "bayes_verdicts",
    "compare_waves",
    "contrast",
    "result_table",
    "test_against_target",
    "ConvergenceError",
    "DesignError",
    "MetingError",
    "ParameterError",
    "Registry",
    "ReplicateDesign",
    "ReportError",
    "SchemaError",
    "SurveyDesign",
    "SyntheticWave",
    "WaveData",
    "WeightingRecord",
    "WeightingReport",
    "__version__",
    "calibrate",
    "design_for_wave",
    "effective_n",
    "generate_wave",
    "kish_deff",
    "load_registry",
    "load_wave",
    "margin_gaps",
    "poststratify",
    "rake",
    "trim",
    "validate_files",
]
