"""Seeded generator of synthetic waves, calibrated to the published figures, with the truth kept.

The model and every assumption are documented in ``params/synthetic.yaml``. In short: for every
population stratum (municipality x life event x age band x sex x education) the latent score is
normal with a mean built from additive effects; the observed rapportcijfer is the latent score
rounded and clipped to 1..10. Because the latent score is normal, the expectation of the observed
score is known exactly (:func:`expected_rounded_score`); the base of each score is solved so that
the population expectation hits the wave's target, and that exact expectation is the truth kept
beside the sample (``truth_strata``, ``truth_cells``).

The sample over-represents older and higher educated people, who score higher, so the unweighted
mean is biased; post-stratification to the population margins removes the bias. Life-event
incidence is assumed independent of age, sex and education within a municipality, so weights to a
municipality's margins are right for each of its life-event cells too.

Same seed, same bytes: every random draw comes from ``np.random.default_rng`` in a fixed order,
rows are written in a fixed order with fixed float formatting, and nothing depends on the clock.

Modules: :mod:`~meting.synthetic.params` (typed ``params/synthetic.yaml``),
:mod:`~meting.synthetic.structure` (population structure), :mod:`~meting.synthetic.simulate`
(truth and sample) and :mod:`~meting.synthetic.write` (files and the ``meting generate``
command).
"""

from meting.synthetic.params import SyntheticFile, SyntheticParams, load_synthetic_params
from meting.synthetic.simulate import (
    SyntheticWave,
    expected_rounded_score,
    generate_national,
    generate_wave,
)
from meting.synthetic.write import generate_command, write_wave

__all__ = [
    "SyntheticFile",
    "SyntheticParams",
    "SyntheticWave",
    "expected_rounded_score",
    "generate_command",
    "generate_national",
    "generate_wave",
    "load_synthetic_params",
    "write_wave",
]
