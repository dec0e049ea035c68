"""A report whose inputs are unchanged is not rendered again (meting.report.uptodate); a change
of its notebook, its parameters or its data, or ``--force``, renders it again."""

from __future__ import annotations

from pathlib import Path

import pytest
from stub_project import make_project

from meting.report.build import report_command

pytestmark = pytest.mark.integration  # real renders: `pytest -m integration`

LATEST = "2010-vervolgmeting"
STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""

# %%
print("gemeente", municipality)
"""


def test_unchanged_report_is_kept_and_a_change_renders_it_again(tmp_path: Path) -> None:
    project = make_project(tmp_path, STUB)
    out = project / "reports"

    def build(**kwargs: object) -> list[str]:
        lines: list[str] = []
        args = dict(params_dir=project / "params", out_dir=out, jobs=1, pdf=False)
        args.update(notebooks_dir=project / "notebooks", emit=lines.append)
        assert report_command(["GM0505"], **args, **kwargs) == 0  # type: ignore[arg-type]
        return [line for line in lines if line.startswith("[1/1]")]

    html = out / LATEST / "gemeenten" / "GM0505.html"
    assert "klaar in" in build()[0]
    first = html.stat().st_mtime_ns
    assert "ongewijzigd" in build()[0]
    assert html.stat().st_mtime_ns == first
    assert "klaar in" in build(force=True)[0]
    data = project / "data" / "synthetic" / LATEST / "respondents.csv"
    data.write_text("respondent_id\n")  # other data: the report is made again
    assert "klaar in" in build()[0]
    notebook = project / "notebooks" / "30_municipality_report.py"
    notebook.write_text(STUB + "\n# %%\nprint('nieuw')\n")
    assert "klaar in" in build()[0]
    assert "nieuw" in html.read_text(encoding="utf-8")
    html.unlink()  # an output gone: made again
    assert "klaar in" in build()[0]
