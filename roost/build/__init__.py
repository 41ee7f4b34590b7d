"""roost.build."""
