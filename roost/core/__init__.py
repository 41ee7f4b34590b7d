"""roost.core."""
