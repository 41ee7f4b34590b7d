"""Procfile parsing and bin/release defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.build.procfile import parse_procfile, parse_release_output, process_types
from roost.errors import BuildError

CASES = [
    ("web: gunicorn app:app\n", {"web": "gunicorn app:app"}),
    ("web:gunicorn app:app --bind 0.0.0.0:$PORT", {"web": "gunicorn app:app --bind 0.0.0.0:$PORT"}),
    ("# comment\n\nweb: a\nworker_2: b -x\nclock-1: c\n", {"web": "a", "worker_2": "b -x",
                                                          "clock-1": "c"}),
    ("web: a\nbad name: b\nweb: c\n", {"web": "c"}),
    ("  web  :  spaced  \n", {"web": "spaced"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: dict[str, str]) -> None:
    assert parse_procfile(text) == expected


@pytest.mark.parametrize("text", ["", "# only a comment\n", "bad name: x\nweb:\n", "no colon"])
def test_no_valid_entries_fails_the_procfile_step(text: str) -> None:
    with pytest.raises(BuildError) as err:
        parse_procfile(text)
    assert err.value.step == "procfile"


def test_bad_lines_are_reported() -> None:
    warnings: list[str] = []
    parse_procfile("web: ok\nw@b: nope\n", warnings.append)
    assert len(warnings) == 1 and "line 2" in warnings[0]


def test_release_defaults_fill_only_missing_types(tmp_path: Path) -> None:
    defaults = parse_release_output(
        "---\naddons: []\ndefault_process_types:\n  web: npm start\n  worker: node w.js\n", "bp")
    assert defaults == {"web": "npm start", "worker": "node w.js"}
    (tmp_path / "Procfile").write_text("web: node server.js\n")
    assert process_types(tmp_path, defaults) == {"web": "node server.js", "worker": "node w.js"}
    (tmp_path / "Procfile").unlink()
    assert process_types(tmp_path, defaults) == defaults
    with pytest.raises(BuildError, match="no process types"):
        process_types(tmp_path, {})


@pytest.mark.parametrize("text", ["- a list", "default_process_types: [1]", "{unclosed"])
def test_bad_release_yaml(text: str) -> None:
    with pytest.raises(BuildError) as err:
        parse_release_output(text, "bp")
    assert err.value.step == "release"
    assert parse_release_output("", "bp") == {} and parse_release_output("--- {}", "bp") == {}
