"""Column names and category levels of the data contract, shared by every module.

The contract itself (types, ranges, which columns are required) is enforced in
:mod:`meting.schema`; this module only names things so that no other module spells a column name
as a string literal of its own.
"""

from __future__ import annotations

from typing import Final

# --- respondent table: one row per respondent of one wave ---------------------------------------
RESPONDENT_ID: Final = "respondent_id"
WAVE: Final = "wave"
MUNICIPALITY: Final = "municipality"  # CBS code, "GM" + 4 digits, a string
LIFE_EVENT: Final = "life_event"  # code from params/life_events.yaml

SCORE_GOVERNMENT: Final = "score_government"  # rapportcijfer 1-10: government as a whole
SCORE_CHAIN: Final = "score_chain"  # rapportcijfer 1-10: chain of organisations around the event
SCORE_COOPERATION: Final = "score_cooperation"  # rapportcijfer 1-10: cooperation in the chain
SCORES: Final = (SCORE_GOVERNMENT, SCORE_CHAIN, SCORE_COOPERATION)
SCORE_MIN: Final = 1
SCORE_MAX: Final = 10

# The ten BurgerServiceCode norms, each judged on a 1-5 scale
# (1 = zeer slecht, 2 = slecht, 3 = neutraal, 4 = goed, 5 = zeer goed); missing = not applicable.
BSC_NORMS: Final = tuple(f"bsc_{i:02d}" for i in range(1, 11))
BSC_MIN: Final = 1
BSC_MAX: Final = 5
BSC_POSITIVE: Final = (4, 5)  # "goed"
BSC_NEGATIVE: Final = (1, 2)  # "niet goed"

# Contact channels used (0/1 each; a respondent may use several).
CHANNELS: Final = ("balie", "telefoon", "internet", "brief")
CHANNEL_COLUMNS: Final = tuple(f"channel_{c}" for c in CHANNELS)

# TRI*M questions (optional; 1-5 scale): overall judgement, role as public service provider,
# trust, comparison with other service providers.
TRIM_QUESTIONS: Final = ("trim_overall", "trim_role", "trim_trust", "trim_compare")
TRIM_MIN: Final = 1
TRIM_MAX: Final = 5

# Weighting variables.
AGE_BAND: Final = "age_band"
SEX: Final = "sex"
EDUCATION: Final = "education"
SIZE_CLASS: Final = "size_class"
AGE_BANDS: Final = ("18-34", "35-49", "50-64", "65+")
SEXES: Final = ("man", "vrouw")
EDUCATION_LEVELS: Final = ("laag", "midden", "hoog")

# Optional design columns.
STRATUM: Final = "stratum"
CLUSTER: Final = "cluster"
DESIGN_WEIGHT: Final = "design_weight"

# --- organisation table: one row per respondent x organisation contacted (long) --------------
ORGANISATION: Final = "organisation"  # code from params/organisations.yaml
ORGANISATION_SCORE: Final = "score"  # rapportcijfer 1-10

# The columns of estimate tables are in meting.results (RESULT_COLUMNS).
