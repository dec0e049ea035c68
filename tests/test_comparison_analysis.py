"""The pairs of waves the comparison report tests, read off params/waves/ by hand."""

from meting.comparison_analysis import FAMILIES, wave_pairs
from meting.registry import load_registry


def test_pairs_are_consecutive_waves_plus_the_whole_period() -> None:
    registry = load_registry()
    order = ["2008-nulmeting", "2009-vervolgmeting", "2010-vervolgmeting"]
    assert wave_pairs(registry, order) == [
        ("2008-nulmeting", "2009-vervolgmeting"),
        ("2009-vervolgmeting", "2010-vervolgmeting"),
        ("2008-nulmeting", "2010-vervolgmeting"),
    ]
    # two waves: one pair, no separate whole period
    assert wave_pairs(registry, order[:2]) == [("2008-nulmeting", "2009-vervolgmeting")]
    assert wave_pairs(registry, order[1:2]) == []
    assert FAMILIES[0] == "levels" and len(set(FAMILIES)) == 6
