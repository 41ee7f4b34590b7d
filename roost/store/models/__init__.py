"""Every model, imported here so that Base.metadata knows all tables."""
from roost.store.models import notify, uptime  # noqa: F401,E402  (uptime and notify tables)
