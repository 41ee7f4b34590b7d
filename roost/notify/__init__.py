"""Notifications: a durable outbox, delivery channels (SMS, email, Apprise), a worker."""

from roost.notify.channels import Deliverer
from roost.notify.outbox import backlog, enqueue
from roost.notify.recipients import MAIL_CHANNELS, PAGE_CHANNELS, Recipient
from roost.notify.testsend import ChannelResult, send_test
from roost.notify.worker import OutboxWorker, WorkerPolicy

__all__ = [
    "MAIL_CHANNELS", "PAGE_CHANNELS", "ChannelResult", "Deliverer", "OutboxWorker",
    "Recipient", "WorkerPolicy", "backlog", "enqueue", "send_test",
]
