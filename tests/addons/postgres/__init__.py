"""Tests of the PostgreSQL add-on."""
