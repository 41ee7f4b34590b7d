"""roost.monitor."""
