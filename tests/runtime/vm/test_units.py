"""What the vm runtime writes on a VM: names, quoting and the privilege boundary in text."""

from __future__ import annotations

import pytest

from roost.errors import InvalidInput
from roost.runtime.vm import units
from roost.runtime.vm.logpump import source_of
from roost.runtime.vm.units import Layout


def test_user_names_fit_useradd_and_stay_distinct() -> None:
    long_a, long_b = "a" * 29 + "x", "a" * 29 + "y"
    assert Layout("old").user == "app-old"
    assert len(Layout(long_a).user) <= 32 and len(Layout(long_b).user) <= 32
    assert Layout(long_a).user != Layout(long_b).user


def test_env_file_quotes_what_systemd_would_expand() -> None:
    text = units.env_text({"A": 'say "hi" $HOME `id` \\ done', "B": "two\nlines",
                           "bad key": "dropped"})
    assert text == ('A="say \\"hi\\" \\$HOME \\`id\\` \\\\ done"\n'
                    'B="two\nlines"\n')


def test_units_run_as_the_app_with_root_owned_config() -> None:
    layout = Layout("old")
    web = units.web_service(layout, 7000, grace=5)
    assert "User=app-old\n" in web and "NoNewPrivileges=yes\n" in web
    assert "EnvironmentFile=/etc/roost/apps/old/current.env\n" in web
    assert "Requires=roost-old_web.socket\n" in web
    sock = units.socket_unit(layout, "10.0.0.5:7000")
    assert "ListenStream=10.0.0.5:7000\n" in sock and "Service=roost-old_web.service" in sock
    check = units.check_command(layout, 3, 7001)
    assert "--socket-property=ListenStream=127.0.0.1:7001" in check
    assert "--property=EnvironmentFile=/etc/roost/apps/old/v3.env" in check


def test_start_script_runs_the_procfile_command_through_bash() -> None:
    script = units.start_script(Layout("old"), 2, "python3 app.py --name 'x y' $PORT")
    assert script.endswith("exec /bin/bash -c 'python3 app.py --name '\"'\"'x y'\"'\"' $PORT'\n")
    assert "cd /var/lib/roost/apps/old/releases/v2 || exit 1\n" in script


@pytest.mark.parametrize("ptype", ["Web", "a b", "x;rm", "", "w" * 31])
def test_process_types_that_cannot_name_a_unit_are_refused(ptype: str) -> None:
    with pytest.raises(InvalidInput, match="cannot run on a VM"):
        units.check_ptype(ptype)


def test_log_sources() -> None:
    layout = Layout("old")
    assert source_of(layout, "roost-old_web.service") == "app[web.1]"
    assert source_of(layout, "roost-old_check.service") == "app[web.check]"
    assert source_of(layout, "roost-old_worker@2.service") == "app[worker.2]"
