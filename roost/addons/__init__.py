"""Add-ons: services attached to an app (PostgreSQL, email, DNS…) behind one interface.

A kind is one module implementing :class:`~roost.addons.base.Addon` plus one line in
:data:`~roost.addons.registry.BUILTIN`; nothing else changes to add one.
"""
