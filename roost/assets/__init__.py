"""roost.assets."""
