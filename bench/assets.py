"""Asset publishing benchmark: roost.assets.publish against ``aws s3 sync`` on one moto server.

A generated folder of 5,000 files (~200 MB, text and binary, mixed sizes) is published to
moto in server mode twice: once fresh, then after changing 10 files. ``aws s3 sync`` (awscli
from PyPI, in its own venv because it pins botocore) syncs the same folder to another bucket
of the same server in the same run, before and after the same 10 changes.
Targets: second publish >= 3x faster than the second sync, uploading exactly the 10 changed
files plus their compressed variants; first publish <= 1.5x the first sync.

    PYTHONPATH=. /work/main/.venv/bin/python bench/assets.py
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx

from roost.assets import publish
from roost.assets.names import compressible
from roost.objectstore import open_store
from tests.conftest import free_port, wait_for

FILES = 5000
TARGET_BYTES = 200 * 1024 * 1024
CHANGED = 10
AWS_VENV = Path(os.environ.get("AWSCLI_VENV", "/tmp/awscli-venv"))
TEXT_EXTS = [".css", ".js", ".svg", ".json", ".html"]
BIN_EXTS = [".png", ".jpg", ".woff2", ".webp"]
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
         "AWS_DEFAULT_REGION": "us-east-1"}


def _corpus(rng: random.Random) -> bytes:
    """A few MB of text that compresses like real CSS/JS (about 4:1)."""
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz-_{}:;.#()0123456789")
                     for _ in range(rng.randint(2, 10))) for _ in range(4000)]
    return " ".join(rng.choice(words) for _ in range(900_000)).encode()


def generate(root: Path, seed: int = 7) -> tuple[int, int]:
    """Write the folder; return (files, bytes). 40 % text files, 60 % binary by count."""
    rng = random.Random(seed)
    corpus = _corpus(rng)
    total = 0
    # Binary files carry most of the bytes, as images and fonts do in real apps.
    text_sizes = [min(int(rng.lognormvariate(8.8, 1.0)), 400_000) for _ in range(FILES * 2 // 5)]
    bin_budget = TARGET_BYTES - sum(text_sizes)
    bin_count = FILES - len(text_sizes)
    raw = [rng.lognormvariate(10.3, 1.0) for _ in range(bin_count)]
    scale = bin_budget / sum(raw)
    bin_sizes = [max(200, min(int(r * scale), 4_000_000)) for r in raw]
    for i, size in enumerate(text_sizes):
        path = root / f"t{i % 40}" / f"file{i}{TEXT_EXTS[i % len(TEXT_EXTS)]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        start = rng.randrange(0, len(corpus) - size)
        path.write_bytes(corpus[start:start + size])
        total += size
    for i, size in enumerate(bin_sizes):
        path = root / f"b{i % 60}" / f"img{i}{BIN_EXTS[i % len(BIN_EXTS)]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    return FILES, total


def change(root: Path, count: int) -> list[Path]:
    """Append to ``count`` files, half text and half binary."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    text = [p for p in files if compressible(p.name)][: count // 2]
    binary = [p for p in files if not compressible(p.name)][: count - len(text)]
    for path in text + binary:
        with path.open("ab") as fh:
            fh.write(b"/* changed */" if path in text else os.urandom(64))
    return text + binary


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto in server mode, in its own process so it competes with neither client's GIL."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                             "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=30)
    return proc, url


def aws_sync(src: Path, bucket: str, endpoint: str) -> float:
    """Time one ``aws s3 sync`` of ``src`` to ``bucket``."""
    env = {**os.environ, **CREDS, "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    start = time.perf_counter()
    subprocess.run([str(AWS_VENV / "bin" / "aws"), "s3", "sync", str(src),
                    f"s3://{bucket}/assets/bench/", "--endpoint-url", endpoint,
                    "--only-show-errors", "--no-progress"], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Run both tools twice and print the figures side by side."""
    if not (AWS_VENV / "bin" / "aws").exists():
        sys.exit(f"awscli not found in {AWS_VENV}: python3 -m venv {AWS_VENV} && "
                 f"{AWS_VENV}/bin/pip install awscli")
    os.environ.update(CREDS)
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-assets-"))
    proc, endpoint = start_moto()
    try:
        src = tmp / "public"
        files, size = generate(src)
        text = sum(1 for p in src.rglob("*") if p.is_file() and compressible(p.name))
        print(f"folder: {files} files, {size / 1e6:.1f} MB ({text} text files)")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for bucket in ("roost-bench", "aws-bench"):
            s3.create_bucket(Bucket=bucket)
        store = open_store(f"s3://roost-bench?endpoint_url={endpoint}")
        base = f"{endpoint}/roost-bench/assets/bench/"

        first = publish(store, "bench", 1, src, base_url=base, workers=16)
        sync1 = aws_sync(src, "aws-bench", endpoint)
        changed = change(src, CHANGED)
        second = publish(store, "bench", 2, src, base_url=base, workers=16)
        sync2 = aws_sync(src, "aws-bench", endpoint)

        variants = sum(len(second.manifest.entries[p.relative_to(src).as_posix()].variants)
                       for p in changed)
        print(f"roost publish 1: {first.duration:7.2f} s  ({first.files_uploaded} files, "
              f"{first.objects_uploaded} objects with variants, "
              f"{first.bytes_uploaded / 1e6:.1f} MB)")
        print(f"aws s3 sync 1:   {sync1:7.2f} s  ({files} files)")
        print(f"  objects/s: roost {first.objects_uploaded / first.duration:.0f}, "
              f"aws {files / sync1:.0f} (moto spends ~2 ms of CPU per PUT either way)")
        print(f"roost publish 2: {second.duration:7.2f} s  ({second.files_uploaded} files, "
              f"{second.objects_uploaded} objects = {CHANGED} changed + {variants} variants)")
        print(f"aws s3 sync 2:   {sync2:7.2f} s")
        r1 = first.duration / sync1
        r2 = sync2 / second.duration
        ok_upload = (second.files_uploaded == CHANGED
                     and second.objects_uploaded == CHANGED + variants)
        print(f"first:  roost / aws = {r1:.2f}x  (target <= 1.5x)  {'OK' if r1 <= 1.5 else 'MISS'}")
        print(f"second: aws / roost = {r2:.1f}x faster  (target >= 3x)  "
              f"{'OK' if r2 >= 3 else 'MISS'}")
        print(f"second publish uploaded exactly the {CHANGED} changed files + variants: "
              f"{'OK' if ok_upload else 'MISS'}")
        store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
