"""roost.monitor.perf."""
