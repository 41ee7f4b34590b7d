"""roost.objectstore."""
