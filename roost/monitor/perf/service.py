"""The perf monitor as one object: aggregator, flushing worker, regression checks, retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.perf.aggregator import Aggregator, Settings, Worker
from roost.monitor.perf.flush import Finding, known_endpoints, write_snapshot
from roost.monitor.perf.keys import IngestKeys
from roost.monitor.perf.regress import RegressionRules, check_regressions
from roost.monitor.perf.retention import maintain
from roost.monitor.perf.rollup import rollup
from roost.store.base import utcnow
from roost.store.session import transaction

log = logging.getLogger(__name__)


class PerfService:
    """Receives decoded spans, aggregates them in memory and keeps the store up to date.

    ``resolve_app`` maps an ingest key to an app name (None when unknown); ``notify``
    receives every new finding after it has been committed.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        resolve_app: Callable[[str], str | None],
        *,
        notify: Callable[[Finding], None] | None = None,
        settings: Settings | None = None,
        rules: RegressionRules | None = None,
        flush_interval: float = 5.0,
        regression_interval: float = 60.0,
        maintenance_interval: float = 3600.0,
        rollup_interval: float = 300.0,
        max_body_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.session_factory = session_factory
        self.resolve_app = resolve_app
        self.keys = IngestKeys(resolve_app)  # the receiver's cache of ingest keys
        self.notify = notify
        self.rules = rules or RegressionRules()
        self.max_body_bytes = max_body_bytes
        self.aggregator = Aggregator(settings, known_endpoints=self._known)
        self.worker = Worker(self.aggregator, self.flush, interval=flush_interval)
        self.regression_interval = regression_interval
        self.maintenance_interval = maintenance_interval
        self.rollup_interval = rollup_interval
        self._next_regression = 0.0
        self._next_maintenance = time.monotonic() + 60.0
        self._next_rollup = time.monotonic() + 60.0
        # Whether this process runs the run-once work (regression checks, roll-ups) now;
        # every control-plane instance flushes what it received itself.
        self.leads: Callable[[str], bool] = lambda _work: True

    def _known(self, app: str) -> set[str]:
        with transaction(self.session_factory) as session:
            return known_endpoints(session, app)

    def start(self) -> None:
        """Start the background worker (aggregate continuously, flush every interval)."""
        self.worker.start()

    def stop(self) -> None:
        """Flush and stop the worker."""
        self.worker.stop()

    def flush(self, now: datetime | None = None) -> list[Finding]:
        """Aggregate what is queued, write it, run due checks; notify and return new findings."""
        self.aggregator.process()
        snap = self.aggregator.take()
        found: list[Finding] = []
        with transaction(self.session_factory) as session:
            found.extend(write_snapshot(session, snap,
                                        self.aggregator.settings.random_samples))
        tick = time.monotonic()
        if now is not None or (tick >= self._next_regression and self.leads("perf checks")):
            self._next_regression = tick + self.regression_interval
            with transaction(self.session_factory) as session:
                found.extend(check_regressions(session, now or utcnow(), self.rules))
        if tick >= self._next_rollup and self.leads("perf roll-ups"):
            # Roll-ups often (long ranges read the hours and days they make), pruning hourly.
            self._next_rollup = tick + self.rollup_interval
            with transaction(self.session_factory) as session:
                if tick >= self._next_maintenance:
                    self._next_maintenance = tick + self.maintenance_interval
                    maintain(session, now or utcnow())
                else:
                    rollup(session, now or utcnow())
        if self.notify is not None:
            for finding in found:
                try:
                    self.notify(finding)
                except Exception:  # the finding is stored; a failing notifier must not stop us
                    log.exception("perf notify failed for %s", finding.summary)
        return found
