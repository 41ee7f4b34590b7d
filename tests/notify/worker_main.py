"""Run an outbox worker in its own process: `python -m tests.notify.worker_main DB SMS [MARK]`.

With MARK, the worker writes that file right after claiming and then blocks, so the
test can SIGKILL it between claim and send.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from roost.notify.channels import Deliverer
from roost.notify.outbox import Claimed
from roost.notify.worker import OutboxWorker, WorkerPolicy
from roost.store.session import make_engine, make_sessionmaker


async def main(db_url: str, sms_url: str, mark: str | None) -> None:
    """Deliver until killed."""
    factory = make_sessionmaker(make_engine(db_url))

    async def hold(claimed: list[Claimed]) -> None:
        if mark:
            # Whole or not at all: the test reads the file as soon as it exists.
            partial = Path(mark + ".part")
            partial.write_text(",".join(str(c.id) for c in claimed))
            partial.replace(mark)
            await asyncio.sleep(3600)

    worker = OutboxWorker(factory, Deliverer(sms_url),
                          WorkerPolicy(lease_s=1.0, poll_s=0.05, backoff_base_s=0.1),
                          on_claimed=hold)
    await worker.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
