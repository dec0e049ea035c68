"""Typed, documented settings of every file in ``params/`` (pydantic v2, frozen, unknown keys
refused); validation errors become :class:`meting.errors.ParameterError` naming file and field.

=====================  =========================================================
module                 what
=====================  =========================================================
``base``               base model, strict field types, error translation (``parse``)
``records``            organisations, life events, municipalities, code changes,
                       population education shares
``waves``              wave files and the :class:`Wave` record
``analysis``           ``analysis.yaml``: :class:`Settings`, :class:`SaePriors`
=====================  =========================================================

The synthetic generator's parameters live with it (:mod:`meting.synthetic.params`).
"""

from meting.settings.analysis import BayesThresholds, SaePriors, Settings
from meting.settings.base import Frozen, parse
from meting.settings.records import (
    CodeChange,
    EducationShares,
    LifeEvent,
    LifeEventsFile,
    Municipality,
    MunicipalityFile,
    Organisation,
    OrganisationsFile,
)
from meting.settings.waves import Wave, WaveFile

__all__ = [
    "BayesThresholds",
    "CodeChange",
    "EducationShares",
    "Frozen",
    "LifeEvent",
    "LifeEventsFile",
    "Municipality",
    "MunicipalityFile",
    "Organisation",
    "OrganisationsFile",
    "SaePriors",
    "Settings",
    "Wave",
    "WaveFile",
    "parse",
]
