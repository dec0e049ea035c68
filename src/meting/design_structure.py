"""The structure of a stratified multi-stage design, as R's ``survey`` holds it for variances.

:func:`build_structure` turns the stage codes (clusters, strata, fpc) into one :class:`Stage`
per sampling stage (PSU and stratum codes, sampling fractions, the lonely-PSU rule of
``options(survey.lonely.psu)``) and the weights an fpc implies; :func:`degf` counts the design
degrees of freedom.  :mod:`meting.variance` computes the linearised variances on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from meting.errors import DesignError

LonelyPsu = Literal["fail", "certainty", "remove", "adjust", "average"]
LONELY_PSU_OPTIONS: tuple[str, ...] = ("fail", "certainty", "remove", "adjust", "average")

#: survey:::onestrat treats a stratum with sampling fraction above 1 - 1e-7 as self-representing.
_CERTAINTY_TOL = 1e-7


# ----------------------------------------------------------------------------------------------
# design structure
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One sampling stage as the variance sees it.

    Attributes
    ----------
    psu : numpy.ndarray
        Code of the sampling unit of this stage for every row (0 .. n_psu - 1).
    stratum_of_psu : numpy.ndarray
        Stratum code (0 .. n_strata - 1) of each sampling unit.
    kappa : numpy.ndarray
        Weight of each stratum's centred sum of squares (fpc, ``n/(n-1)``, sampling fractions
        of the stages above, lonely-PSU rescaling); 0 for strata that contribute nothing.
    centre : numpy.ndarray
        False for strata whose single PSU is compared with zero (``lonely_psu="adjust"``).
    n_psu : numpy.ndarray
        Number of sampling units per stratum, as designed (over the full sample).
    usable : numpy.ndarray
        False for lonely strata left out under ``lonely_psu="average"``.
    average_factor : float
        The ``average`` rescaling (strata / usable strata) folded into ``kappa`` (stage 1).
    undefined : numpy.ndarray
        True for strata in a unit of the stage above where ``lonely_psu="average"`` has no
        usable stratum to average over (every stratum lonely): R's survey gives NaN there, so
        an estimate with rows in such a stratum is refused (see :meth:`SurveyDesign.mean`).
    """

    psu: np.ndarray
    stratum_of_psu: np.ndarray
    kappa: np.ndarray
    centre: np.ndarray
    n_psu: np.ndarray
    usable: np.ndarray
    average_factor: float = 1.0
    undefined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @cached_property
    def rows_are_units(self) -> bool:
        """True when every row is its own sampling unit, in row order (no clusters)."""
        n = self.psu.size
        return self.stratum_of_psu.size == n and bool(np.array_equal(self.psu, np.arange(n)))

    @property
    def psu_matrix(self) -> sp.csr_matrix:
        """Row-by-PSU indicator matrix ``C`` (n x J)."""
        n = self.psu.size
        return sp.csr_matrix(
            (np.ones(n), (np.arange(n), self.psu)), shape=(n, self.stratum_of_psu.size)
        )


@dataclass(frozen=True)
class DesignStructure:
    """Codes of the stages used by the variance, plus the first-stage units for ``degf``."""

    stages: tuple[Stage, ...]
    psu1: np.ndarray
    stratum1: np.ndarray

    @cached_property
    def degf_all(self) -> int:
        """Degrees of freedom over all rows (:func:`degf` with every row), counted once."""
        return _count_degf(self.psu1, self.stratum1)


def _plain(value: object) -> object:
    """A numpy scalar as a plain Python value (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of a column (sorted levels), as ``factor()`` would number them."""
    codes, _ = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.int64)


def _interaction(*code_arrays: np.ndarray) -> np.ndarray:
    """Codes of the combinations of several code arrays."""
    frame = pd.DataFrame({i: c for i, c in enumerate(code_arrays)})
    codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy()
    return codes.astype(np.int64)


def build_structure(
    ids: list[np.ndarray],
    strata: list[np.ndarray],
    strata_labels: list[np.ndarray],
    fpc: list[np.ndarray] | None,
    lonely_psu: str,
    strata_names: list[str],
) -> tuple[DesignStructure, np.ndarray | None]:
    """Build the stage structure of a design (``svydesign`` + ``as.fpc`` + ``onestrat`` rules).

    Parameters
    ----------
    ids : list of numpy.ndarray
        Codes of the clusters per stage (stage 1 first); each row its own unit when a stage
        has no clusters.
    strata : list of numpy.ndarray
        Stratum codes per given strata column (at least one; all zero when unstratified).
    strata_labels : list of numpy.ndarray
        Stratum labels for error messages, parallel to ``strata``.
    fpc : list of numpy.ndarray or None
        Finite population corrections per stage: population sizes (all values >= 1, some > 1)
        or sampling fractions (all values <= 1).
    lonely_psu : str
        One of :data:`LONELY_PSU_OPTIONS`.
    strata_names : list of str
        Names of the strata columns (for messages).

    Returns
    -------
    (DesignStructure, numpy.ndarray or None)
        The structure, and the weights implied by population-size fpcs (None otherwise).
    """
    n = ids[0].size
    n_stages = len(ids)
    # nest later-stage clusters in earlier ones; later-stage strata are the clusters above
    psus = [ids[0]]
    for i in range(1, n_stages):
        psus.append(_interaction(psus[i - 1], ids[i]))
    stratas = [strata[0]]
    for i in range(1, n_stages):
        stratas.append(_interaction(strata[min(i, len(strata) - 1)], psus[i - 1]))

    # clusters must be nested in strata at the top level (svydesign check.strata)
    per_psu = pd.Series(stratas[0]).groupby(psus[0]).nunique()
    if (per_psu > 1).any():
        bad = int(per_psu.index[int(np.argmax(per_psu.to_numpy() > 1))])
        raise DesignError(
            "clusters of ids must be nested in strata at the top level; got a cluster "
            f"(code {bad}) that appears in {int(per_psu.max())} strata. Give clusters labels that "
            "are unique across strata, or pass nest=True."
        )

    sampsize = []
    for i in range(n_stages):
        counts = pd.Series(psus[i]).groupby(stratas[i]).nunique()
        sampsize.append(counts.reindex(stratas[i]).to_numpy().astype(float))

    popsize: list[np.ndarray] | None = None
    implied_weights = None
    if fpc is not None:
        all_fpc = np.concatenate(fpc)
        if np.any(~np.isfinite(all_fpc)) or np.any(all_fpc <= 0):
            raise DesignError(
                f"fpc must be positive and finite; got {all_fpc[~(all_fpc > 0)][:3].tolist()}. "
                "Give population sizes (all >= 1) or sampling fractions (all <= 1)."
            )
        is_popsize = bool(np.any(all_fpc > 1))
        if is_popsize != bool(np.all(all_fpc >= 1)):
            raise DesignError(
                "fpc must hold either population sizes (all >= 1) or sampling fractions "
                f"(all <= 1); got values from {all_fpc.min():g} to {all_fpc.max():g}. "
                "Use one kind for every stage."
            )
        popsize = []
        for i, f in enumerate(fpc):
            ps = f.astype(float) if is_popsize else sampsize[i] / f
            if np.any(ps < sampsize[i] * (1 - 1e-12)):
                raise DesignError(
                    f"fpc at stage {i + 1} must not imply more than 100% sampling; got a "
                    f"population of {ps[ps < sampsize[i]].min():g} units with "
                    f"{sampsize[i][ps < sampsize[i]].max():g} sampled. Check the fpc column."
                )
            varies = pd.Series(ps).groupby(stratas[i]).nunique()
            if (varies > 1).any():
                raise DesignError(
                    f"fpc at stage {i + 1} must be constant within each stratum; got "
                    f"{int((varies > 1).sum())} strata where it varies. Check the fpc column."
                )
            popsize.append(ps)
        if len(popsize) == n_stages:
            # svydesign without weights: 1 / product of the stage sampling fractions, whether the
            # fpc was given as population sizes or as fractions (popsize = sampsize / fraction)
            implied_weights = np.prod([popsize[i] / sampsize[i] for i in range(n_stages)], axis=0)

    var_stages = 1 if popsize is None else min(n_stages, len(popsize))
    stages = []
    parent_frac = np.ones(n)
    for s in range(var_stages):
        psu_codes = psus[s]
        n_j = int(psu_codes.max()) + 1 if n else 0
        first_row = np.full(n_j, -1, dtype=np.int64)
        first_row[psu_codes[::-1]] = np.arange(n)[::-1]
        strat_of_psu = stratas[s][first_row]
        n_h_count = int(stratas[s].max()) + 1 if n else 0
        first_row_h = np.full(n_h_count, -1, dtype=np.int64)
        first_row_h[stratas[s][::-1]] = np.arange(n)[::-1]
        n_h = sampsize[s][first_row_h]
        if popsize is None:
            f = np.ones(n_h_count)
        else:
            big_n = popsize[s][first_row_h]
            f = np.where(np.isinf(big_n), 1.0, (big_n - n_h) / big_n)
        scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
        certain = f < _CERTAINTY_TOL
        lonely = (n_h == 1) & ~certain
        centre = np.ones(n_h_count, dtype=bool)
        ok = np.ones(n_h_count, dtype=bool)
        if lonely.any():
            if lonely_psu == "fail":
                h = int(np.flatnonzero(lonely)[0])
                row = first_row_h[h]
                if s == 0:
                    label = _plain(strata_labels[0][row])
                    where = (
                        f"stratum {label!r} of {strata_names[0]!r}"
                        if strata_names
                        else ("the single stratum")
                    )
                else:
                    label = _plain(strata_labels[min(s, len(strata_labels) - 1)][row])
                    where = f"stage-{s + 1} stratum {label!r} within stage-{s} unit (row {row})"
                raise DesignError(
                    f"{where} must have at least two sampled units at stage {s + 1}; got 1 "
                    f"({int(lonely.sum())} such strata in all). Merge it with a similar stratum, "
                    "or choose lonely_psu='adjust', 'average', 'certainty' or 'remove'."
                )
            if lonely_psu == "adjust":
                centre[lonely] = False
            elif lonely_psu == "average":
                ok[lonely] = False
            elif lonely_psu not in ("certainty", "remove"):
                raise DesignError(
                    f"lonely_psu must be one of {LONELY_PSU_OPTIONS}; got {lonely_psu!r}."
                )
        kappa = np.where(certain, 0.0, scale)
        kappa = np.where(ok, kappa, 0.0)
        # average: rescale the usable strata within each unit of the stage above
        parent_of_h = np.zeros(n_h_count, dtype=np.int64) if s == 0 else psus[s - 1][first_row_h]
        n_parent = int(parent_of_h.max()) + 1 if n_h_count else 0
        nstrat = np.bincount(parent_of_h, minlength=n_parent).astype(float)
        nok = np.bincount(parent_of_h, weights=ok.astype(float), minlength=n_parent)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = nstrat / nok
        undefined = (nok == 0)[parent_of_h] if n_h_count else np.zeros(0, dtype=bool)
        # no usable stratum to average over: R's onestage gives 0 * nstrat / 0 = NaN; keep the
        # variance finite here and let the estimators refuse the rows concerned
        safe = np.where(nok[parent_of_h] > 0, factor[parent_of_h], 0.0) if n_h_count else factor
        kappa = kappa * safe * parent_frac[first_row_h]
        stages.append(
            Stage(
                psu=psu_codes,
                stratum_of_psu=strat_of_psu,
                kappa=kappa,
                centre=centre,
                n_psu=n_h,
                usable=ok,
                average_factor=float(factor[0]) if s == 0 and factor.size else 1.0,
                undefined=undefined,
            )
        )
        if popsize is not None and s + 1 < var_stages:
            parent_frac = parent_frac * sampsize[s] / popsize[s]
    structure = DesignStructure(stages=tuple(stages), psu1=psus[0], stratum1=stratas[0])
    return structure, implied_weights


def structure_from_columns(
    data: pd.DataFrame,
    id_cols: list[str],
    strata_cols: list[str],
    fpc_cols: list[str],
    nest: bool,
    lonely_psu: LonelyPsu,
) -> tuple[DesignStructure, np.ndarray | None]:
    """The structure of a design declared on columns of ``data`` (``svydesign``'s ``ids``,
    ``strata``, ``fpc``, ``nest``), and the weights its fpc implies (None without fpc)."""
    n = len(data)

    def codes_of(col: str) -> np.ndarray:
        codes, _ = pd.factorize(data[col], sort=True)
        return codes.astype(np.int64)

    ids = [codes_of(c) for c in id_cols] or [np.arange(n, dtype=np.int64)]
    strata = [codes_of(c) for c in strata_cols] or [np.zeros(n, dtype=np.int64)]
    labels = [data[c].to_numpy() for c in strata_cols] or [np.zeros(n)]
    if nest and strata_cols:
        ids[0] = pd.MultiIndex.from_arrays([strata[0], ids[0]]).factorize(sort=True)[0]
    fpc = None
    if fpc_cols:
        fpc = []
        for c in fpc_cols:
            vals = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
            if np.isnan(vals).any():
                raise DesignError(
                    f"fpc column {c!r} must be numeric; got "
                    f"{data[c][np.isnan(vals)].iloc[0]!r}. Give population sizes "
                    "or sampling fractions."
                )
            fpc.append(vals)
    return build_structure(ids, strata, labels, fpc, lonely_psu, strata_cols)


def degf(structure: DesignStructure, mask: np.ndarray) -> int:
    """Design degrees of freedom: first-stage units minus strata among the rows in ``mask``."""
    if mask.all():
        return structure.degf_all
    return _count_degf(structure.psu1[mask], structure.stratum1[mask])


def _count_degf(psu1: np.ndarray, stratum1: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(psu1)) - np.count_nonzero(np.bincount(stratum1)))


def domain_degf(structure: DesignStructure, dom: np.ndarray, n_dom: int) -> np.ndarray:
    """Degrees of freedom of each domain: ``degf(subset(design, domain))``.

    ``dom`` holds the domain code of every row (-1: in no domain); per domain, the first-stage
    units minus the strata with rows in the domain (:meth:`SurveyDesign.domain_degf
    <meting.design.SurveyDesign.domain_degf>`).
    """
    keep = dom >= 0
    d = dom[keep].astype(np.int64)
    out = np.zeros(n_dom)
    for codes, sign in ((structure.psu1, 1.0), (structure.stratum1, -1.0)):
        pairs = np.unique(d * (int(codes.max()) + 1) + codes[keep]) if d.size else d
        out += sign * np.bincount(pairs // (int(codes.max()) + 1), minlength=n_dom)
    return out
