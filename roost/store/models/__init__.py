"""Every model, imported here so that Base.metadata knows all tables."""
from roost.store.models import perf  # noqa: F401
