"""Tests of the add-on kinds."""
