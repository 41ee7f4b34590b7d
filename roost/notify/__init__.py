"""roost.notify."""
