"""The runtime: a supervisor running each app's processes behind the Caddy router."""
