"""Delivery channels: SMS through a provider chosen by URL scheme, SMTP email, Apprise URLs."""

from roost.notify.channels.base import Channel, Deliverer

__all__ = ["Channel", "Deliverer"]
