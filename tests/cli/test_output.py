"""What the CLI prints: aligned tables, styles only on a terminal, errors on one line."""

from __future__ import annotations

import pytest

from roost.cli.output import escape, fail, ok, print_table, render, table_lines

COLUMNS = [("name", "NAME"), ("url", "URL"), ("note", "NOTE")]


def test_columns_line_up_two_spaces_apart_without_trailing_blanks() -> None:
    rows = [{"name": "shop", "url": "http://shop.localhost", "note": None},
            {"name": "a-much-longer-name", "url": "http://x", "note": "ok"}]
    assert table_lines(rows, COLUMNS) == [
        "NAME                URL                    NOTE",
        "shop                http://shop.localhost",
        "a-much-longer-name  http://x               ok",
    ]


def test_wide_characters_and_multi_line_cells_keep_columns_aligned() -> None:
    rows = [{"name": "日本", "url": "line one\nline two", "note": "x"},
            {"name": "ab", "url": "u", "note": "y"}]
    assert table_lines(rows, COLUMNS) == [
        "NAME  URL       NOTE",
        "日本  line one  x",
        "      line two",
        "ab    u         y",
    ]


def test_styles_become_ansi_codes_on_a_terminal_and_vanish_elsewhere() -> None:
    message = "[bold]shop[/bold] is [red]down[/red] [x] stays"
    assert render(message, colour=False) == "shop is down [x] stays"
    coloured = render(message, colour=True)
    assert "\x1b[1m" in coloured and "\x1b[31m" in coloured
    assert coloured.endswith("\x1b[0m [x] stays")  # unknown brackets are text


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    ok("[green]ok[/green] done")
    print_table([], COLUMNS, empty="no apps yet")
    fail("cannot reach Roost")
    out, err = capsys.readouterr()
    assert out == "ok done\nno apps yet\n"
    assert err == "error: cannot reach Roost\n"


def test_escaped_text_prints_as_written() -> None:
    name = "requirements[dim].txt [bold]"
    for colour in (True, False):
        assert render(f"[dim]found in {escape(name)}[/dim]", colour=colour).count(name) == 1
    assert render(escape(escape("[red]x[/red]")), colour=False) == "[red]x[/red]"
