"""Machines reached over SSH and configured by recipes (pyinfra deploy files).

``target`` parses what the user types (``ssh://user@host:port``, names, roles); ``keys``
pins SSH host keys and checks private keys; ``runner`` runs pyinfra for a set of hosts in
a child process (``worker``), where recipes (user code) and gevent stay out of the control
plane; ``facts`` are the facts gathered from each host and ``checks`` the rules that turn
them into alerts; ``recipebook`` finds which recipe files apply to a host; ``batches``
splits a rolling apply; ``apprecipes`` runs a VM app's own recipes from the build sandbox.
"""
