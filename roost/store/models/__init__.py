"""Every model, imported here so that Base.metadata knows all tables."""
