"""roost.api."""
