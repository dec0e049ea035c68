"""The console script's parser and error handling."""

from __future__ import annotations

import pytest

from meting.cli import build_parser, main


def test_parser_knows_every_subcommand() -> None:
    parser = build_parser()
    for argv in (["validate", "x.csv"], ["generate"], ["report"]):
        assert parser.parse_args(argv).command == argv[0]


def test_missing_subcommand_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err
