"""roost.monitor.vulns."""
