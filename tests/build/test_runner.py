"""The buildpack runner with small made-up buildpacks: API, env, ordering and failures."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from roost.build import prune_caches, prune_slugs, remove_build_dir, unpack_slug
from roost.build.service import app_lock
from roost.errors import BuildError, Conflict
from tests.build.conftest import Builder
from tests.build.helpers import make_buildpack, member, tar_with
from tests.conftest import wait_for

PROCFILE = {"Procfile": "web: ./run\n"}


def test_buildpack_env_is_clean(builder: Builder, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_SECRET_KEY", "server-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://server/db")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-aws")
    bp = make_buildpack(tmp_path, "envdump", compile=(
        'env > "$1/build-env.txt"; ls "$3" > "$1/env-dir.txt"; cat "$3/GREETING" > "$1/greet"'))
    result = builder(PROCFILE, [str(bp)], config={"GREETING": "hi there", "API_TOKEN": "t"})
    env = dict(line.split("=", 1) for line in
               (result.build_dir / "build-env.txt").read_text().splitlines() if "=" in line)
    assert not [k for k in env if k.startswith(("ROOST_", "AWS_"))]
    assert "DATABASE_URL" not in env and "server-secret" not in str(env)
    assert env["STACK"] == "roost-1" and env["SOURCE_VERSION"] == result.build_id
    assert env["HOME"] != os.environ.get("HOME") and "GREETING" not in env
    assert (result.build_dir / "env-dir.txt").read_text().split() == ["API_TOKEN", "GREETING"]
    assert (result.build_dir / "greet").read_text() == "hi there"


def test_buildpacks_run_in_order_with_exports_and_release_defaults(
        builder: Builder, tmp_path: Path) -> None:
    first = make_buildpack(tmp_path, "first", compile='echo "first ran" > "$1/order"',
                           export="export FROM_FIRST=yes",
                           release="printf -- '---\\ndefault_process_types:\\n  web: one\\n"
                                   "  worker: w1\\n'")
    second = make_buildpack(tmp_path, "second",
                            compile='echo "second saw FROM_FIRST=$FROM_FIRST" >> "$1/order"',
                            release="printf -- '---\\ndefault_process_types:\\n  worker: w2\\n'")
    result = builder({"Procfile": "web: from-procfile\n"}, [str(first), str(second)])
    assert (result.build_dir / "order").read_text().splitlines() == [
        "first ran", "second saw FROM_FIRST=yes"]
    assert result.process_types == {"web": "from-procfile", "worker": "w2"}
    assert result.buildpacks_used == [str(first), str(second)]
    assert set(result.durations) >= {f"compile:{first}", f"compile:{second}", "pack", "total"}
    assert any("first compiled in" in ln for ln in builder.lines)


def test_dot_buildpacks_file_chooses_buildpacks(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "listed", compile='touch "$1/listed-ran"')
    result = builder({**PROCFILE, ".buildpacks": f"# ours\n{bp}\n"})
    assert result.buildpacks_used == [str(bp)]
    assert (result.build_dir / "listed-ran").exists()


def test_output_is_streamed_live(builder: Builder, tmp_path: Path) -> None:
    # compile waits for a file that only the output callback creates on seeing "one":
    # buffered output would never let it finish.
    (tmp_path / "signal").mkdir()
    go = tmp_path / "signal" / "go"
    bp = make_buildpack(tmp_path, "live", compile=(
        f'echo one; for i in $(seq 200); do [ -f {go} ] && break; sleep 0.05; done; '
        f'[ -f {go} ] || exit 3; echo two'))
    seen: list[str] = []

    def on_output(line: str) -> None:
        seen.append(line)
        if line == "one":
            go.touch()

    # The sandboxed build sees that directory (read-only) only because the test says so.
    builder(PROCFILE, [str(bp)], on_output=on_output, sandbox_paths=(str(go.parent),))
    assert seen.index("one") < seen.index("two")


def test_cache_persists_between_builds(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "counter", compile=(
        'n=$(cat "$2/n" 2>/dev/null || echo 0); echo $((n+1)) > "$2/n"; cp "$2/n" "$1/n"'))
    first = builder(PROCFILE, [str(bp)])
    second = builder(PROCFILE, [str(bp)])
    assert (first.build_dir / "n").read_text().strip() == "1"
    assert (second.build_dir / "n").read_text().strip() == "2"
    assert prune_caches(tmp_path / "cache", keep_apps={"other"}) == ["app1"]
    assert not (tmp_path / "cache" / "app1").exists()


def test_slug_honours_slugignore_and_unpacks_elsewhere(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "maker", compile='mkdir -p "$1/out" && echo built > "$1/out/x"')
    result = builder({**PROCFILE, ".slugignore": "*.psd\n/docs\n", "art.psd": "big",
                      "docs/manual.txt": "m", "app.py": "code"}, [str(bp)])
    target = unpack_slug(builder.store, result.slug_key, tmp_path / "release", tmp_path / "dl")
    assert (target / "out" / "x").read_text() == "built\n"
    assert (target / "app.py").exists() and not (target / "art.psd").exists()
    assert not (target / "docs").exists()
    head = builder.store.head(result.slug_key)
    assert head is not None and head.size == result.slug_size
    assert head.sha256 == result.slug_sha256
    remove_build_dir(result)
    assert not result.build_dir.exists()


def test_lockfiles_are_reported(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "deps", compile=(
        'mkdir -p "$1/node_modules/x" && echo {{}} > "$1/node_modules/x/package-lock.json"'))
    result = builder({**PROCFILE, "requirements.txt": "x==1\n", "web/package-lock.json": "{}",
                      "web/yarn.lock": "", "Gemfile.lock": ""}, [str(bp)])
    assert result.lockfiles == ["Gemfile.lock", "requirements.txt", "web/package-lock.json",
                                "web/yarn.lock"]


# --- failures -------------------------------------------------------------------------


def _fails(step: str, builder: Builder, *args: object, **kwargs: object) -> BuildError:
    work_before = set((builder.root / "work").glob("*"))
    slugs_before = list(builder.store.list("slugs/"))
    with pytest.raises(BuildError) as err:
        builder(*args, **kwargs)  # type: ignore[arg-type]
    assert err.value.step == step, err.value
    assert set((builder.root / "work").glob("*")) == work_before, "failed build left its work"
    assert list(builder.store.list("slugs/")) == slugs_before
    return err.value


def test_nothing_detected(builder: Builder) -> None:
    err = _fails("detect", builder, {"README": "no code here"})
    assert "no buildpack detected" in err.message


def test_listed_buildpack_that_does_not_detect(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "picky", detect="exit 1")
    err = _fails("detect", builder, PROCFILE, [str(bp)])
    assert str(bp) in err.message


def test_compile_failure_names_buildpack_and_shows_tail(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "broken", compile=(
        'for i in $(seq 1 50); do echo "line $i"; done; echo "fatal: no compiler" >&2; exit 7'))
    err = _fails("compile", builder, PROCFILE, [str(bp)], tail_lines=5)
    assert str(bp) in err.message and "status 7" in err.message
    assert err.output_tail.splitlines() == ["line 47", "line 48", "line 49", "line 50",
                                            "fatal: no compiler"]


def test_procfile_without_valid_entries(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "plain")
    _fails("procfile", builder, {"Procfile": "not a process line\n"}, [str(bp)])


def test_slug_over_size_limit(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "fat", compile='head -c 300000 /dev/urandom > "$1/blob"')
    err = _fails("slug", builder, PROCFILE, [str(bp)], max_slug_bytes=100_000)
    assert "over the limit" in err.message


def test_build_over_time_limit_kills_the_process_group(builder: Builder, tmp_path: Path) -> None:
    marker = f"{300 + os.getpid() % 1000 / 1000:.3f}"  # a sleep no other test runs
    bp = make_buildpack(tmp_path, "slow", compile=(
        f'sleep {marker} & echo started; sleep {marker}'))
    err = _fails("compile", builder, PROCFILE, [str(bp)], timeout_seconds=2)
    assert "timed out" in err.message

    def gone() -> bool:
        for entry in Path("/proc").iterdir():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"sleep", marker.encode()]:
                return False
        return True

    wait_for(gone, timeout=10)


@pytest.mark.parametrize("bad", [
    [member("/abs/file")],
    [member("../up")],
    [member("link", tarfile.SYMTYPE, "/etc")],
    [member("dev", tarfile.CHRTYPE)],
])
def test_unsafe_source_archive(builder: Builder, tmp_path: Path, bad: list[tarfile.TarInfo]
                               ) -> None:
    src = tar_with(tmp_path / "bad.tgz", *bad)
    from roost.build import BuildLimits, run_build

    with pytest.raises(BuildError) as err:
        run_build(src, "app1", {}, [], builder.store, tmp_path / "work", tmp_path / "cache",
                  print, BuildLimits())
    assert err.value.step == "source"
    assert not list((tmp_path / "work").glob("*"))


def test_second_build_of_the_same_app_is_refused(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "plain")
    with app_lock(tmp_path / "cache" / "app1", "app1"), pytest.raises(Conflict):
        builder(PROCFILE, [str(bp)])
    assert builder(PROCFILE, [str(bp)], app="app1").slug_size > 0


def test_bad_config_var_name(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "plain")
    _fails("config", builder, PROCFILE, [str(bp)], config={"../x": "1"})


def test_prune_slugs_keeps_released_and_newest(builder: Builder, tmp_path: Path) -> None:
    bp = make_buildpack(tmp_path, "plain")
    keys = [builder(PROCFILE, [str(bp)]).slug_key for _ in range(4)]
    for i, key in enumerate(keys):  # make the order of age unambiguous
        path = tmp_path / "store" / key
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    deleted = prune_slugs(builder.store, "app1", keep={keys[0]}, keep_latest=1)
    assert deleted == [keys[2], keys[1]]
    assert sorted(o.key for o in builder.store.list("slugs/app1/")) == sorted([keys[0], keys[3]])


def test_git_url_buildpack_with_ref(builder: Builder, tmp_path: Path) -> None:
    work = tmp_path / "bp-src"
    make_buildpack(tmp_path, "bp-src", compile='echo v1 > "$1/version"')
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(work)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    v1_sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    (work / "bin" / "compile").write_text('#!/usr/bin/env bash\necho v2 > "$1/version"\n')
    subprocess.run([*git, "commit", "-qam", "v2"], check=True)
    bare = tmp_path / "bp.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    for ref, expected in [("", "v2"), ("#v1", "v1"), ("#main", "v2"), (f"#{v1_sha}", "v1")]:
        result = builder(PROCFILE, [f"file://{bare}{ref}"])
        assert (result.build_dir / "version").read_text().strip() == expected, ref
    err = _fails("fetch", builder, PROCFILE, [f"file://{bare}#no-such-ref"])
    assert "no-such-ref" in err.message


def test_tarball_buildpack_over_http(builder: Builder, tmp_path: Path) -> None:
    import http.server
    import threading
    from functools import partial

    make_buildpack(tmp_path / "pack", "tarred-1.0", compile='echo from-tarball > "$1/origin"')
    (tmp_path / "www").mkdir()
    with tarfile.open(tmp_path / "www" / "bp.tgz", "w:gz") as tar:
        tar.add(tmp_path / "pack" / "tarred-1.0", arcname="tarred-1.0")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = builder(PROCFILE, [f"http://127.0.0.1:{port}/bp.tgz"])
        assert (result.build_dir / "origin").read_text().strip() == "from-tarball"
        err = _fails("fetch", builder, PROCFILE, [f"http://127.0.0.1:{port}/missing.tgz"])
        assert "404" in err.message
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("files", "used", "types"), [
    ({"Procfile": "web: ./run\n"}, ["procfile"], {"web": "./run"}),
    ({"package.json": '{"name": "x", "version": "1.0.0", "scripts": {"start": "node s.js"}}',
      "package-lock.json": '{"name": "x", "version": "1.0.0", "lockfileVersion": 3, '
                           '"requires": true, '
                           '"packages": {"": {"name": "x", "version": "1.0.0"}}}'},
     ["nodejs"], {"web": "npm start"}),
    ({"requirements.txt": "", "package.json": "{}", "Procfile": "web: python -m http.server\n"},
     ["python"], {"web": "python -m http.server"}),
], ids=["procfile", "nodejs-release-defaults", "python-before-nodejs"])
def test_auto_detection_order(builder: Builder, files: dict[str, str], used: list[str],
                              types: dict[str, str]) -> None:
    result = builder(files)
    assert result.buildpacks_used == used
    assert result.process_types == types
