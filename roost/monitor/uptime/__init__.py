"""roost.monitor.uptime."""
