"""Fewer cyclic-GC passes while WeasyPrint lays out a PDF (meting.report.render)."""

from __future__ import annotations

import gc

import pytest

from meting.report.render import PDF_GC_THRESHOLD, fewer_gc_passes


def test_fewer_gc_passes_puts_the_thresholds_back_even_on_error() -> None:
    before = gc.get_threshold()
    with fewer_gc_passes():
        assert gc.get_threshold() == PDF_GC_THRESHOLD
    assert gc.get_threshold() == before
    with pytest.raises(ZeroDivisionError), fewer_gc_passes((1234, 5, 6)):
        assert gc.get_threshold() == (1234, 5, 6)
        _ = 1 / 0
    assert gc.get_threshold() == before
