"""roost.addons."""
