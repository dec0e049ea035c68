"""Planning and building the reports (meting.report.build): parameters checked first, progress,
index (a failing notebook: test_report_faults.py).

The notebooks here are tiny stand-ins (no model fits), so a render takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stub_project import make_project

from meting.cli import main
from meting.errors import ParameterError
from meting.pipeline import wave_data_files
from meting.registry import load_registry
from meting.report.build import plan_reports, report_command

pytestmark = pytest.mark.integration  # real renders: `pytest -m integration`

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params"
LATEST = "2010-vervolgmeting"

STUB = """# %% tags=["parameters"]
params_dir = ""
wave = ""
municipality = ""

# %% [markdown]
# # Stand-in

# %%
print("gemeente", municipality, "meting", wave)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: a copy of params/, empty data files, stand-in notebooks."""
    return make_project(tmp_path, STUB)


def test_plan_covers_every_parameter_file(tmp_path: Path) -> None:
    registry = load_registry(PROJECT_PARAMS)
    plan = plan_reports(registry, tmp_path)
    kinds = [p.kind for p in plan]
    assert kinds.count("wave") == len(registry.waves) == 3
    assert kinds.count("municipality") == len(registry.municipalities) == 14
    assert kinds.count("comparison") == 1 and kinds.count("validation") == 1
    assert plan[0].job.name == LATEST  # the wave others wait for goes first
    gm = next(p for p in plan if p.job.name == "GM0505")
    assert gm.job.out_dir == tmp_path / LATEST / "gemeenten"
    assert gm.job.outputs["pdf"] == tmp_path / LATEST / "gemeenten" / "GM0505.pdf"
    assert gm.after == (LATEST,)
    assert gm.job.parameters == {
        "params_dir": str(registry.params_dir),
        "wave": LATEST,
        "municipality": "GM0505",
    }
    assert gm.label == "gemeente GM0505 (Dordrecht)"
    wave = next(p for p in plan if p.job.name == "2008-nulmeting")
    assert wave.job.outputs["html"] == tmp_path / "2008-nulmeting" / "index.html"
    assert next(p for p in plan if p.kind == "comparison").job.out_dir == tmp_path / "vergelijking"
    assert next(p for p in plan if p.kind == "validation").job.out_dir == tmp_path / "validatie"


def test_unknown_report_name_is_refused(project: Path) -> None:
    with pytest.raises(ParameterError, match=r"unknown \['GM9999'\].*GM0505"):
        report_command(
            ["GM9999"],
            params_dir=project / "params",
            out_dir=project / "reports",
            notebooks_dir=project / "notebooks",
        )


def test_renders_selection_with_progress_and_index(project: Path) -> None:
    lines: list[str] = []
    out = project / "reports"
    code = report_command(
        ["GM0505"],
        params_dir=project / "params",
        out_dir=out,
        jobs=2,
        notebooks_dir=project / "notebooks",
        emit=lines.append,
    )
    assert code == 0
    folder = out / LATEST / "gemeenten"
    assert sorted(p.name for p in folder.iterdir()) == ["GM0505.html", "GM0505.ipynb", "GM0505.pdf"]
    assert any(line.startswith("[1/1] gemeente GM0505 (Dordrecht) ... klaar in ") for line in lines)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{LATEST}/gemeenten/GM0505.html"' in index
    assert f'href="{LATEST}/gemeenten/GM0505.pdf"' in index
    assert '<html lang="nl">' in index and "<script" not in index
    assert "gemeente GM0505 meting 2010-vervolgmeting" in folder.joinpath("GM0505.html").read_text()


# A failing notebook (the build stops, the old report and index stay, the message names the
# notebook, cell and source, the notebook is kept in .meting/failed): one render in
# test_report_faults.py::test_failed_notebook_is_kept_outside_reports_without_ids checks it all.


def test_broken_parameter_file_fails_before_rendering(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = project / "reports"
    out.mkdir()
    (out / "index.html").write_text("OLD INDEX")
    wave_file = project / "params" / "waves" / "2009-vervolgmeting.yaml"
    wave_file.write_text(wave_file.read_text().replace("year: 2009", "year: twee"))
    code = main(["--params", str(project / "params"), "report", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "2009-vervolgmeting.yaml" in err and "'year'" in err
    assert (out / "index.html").read_text() == "OLD INDEX"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_missing_data_says_how_to_make_it(project: Path) -> None:
    registry = load_registry(project / "params")
    wave_data_files(registry, LATEST)["respondents"].unlink()
    with pytest.raises(ParameterError, match="meting generate"):
        report_command(
            ["GM0505"],
            params_dir=project / "params",
            out_dir=project / "reports",
            notebooks_dir=project / "notebooks",
        )
