"""roost.runtime."""
