"""Every model, imported here so that Base.metadata knows all tables."""
from roost.store.models import vulns  # noqa: F401,E402
