"""Uptime monitoring: monitors, checks, probes, incidents, paging.

Service functions for the API and CLI live in :mod:`.monitors` (create, list, info,
pause, resume, remove), :mod:`.incidents` (list, ack, maintenance) and :mod:`.engine`
(``claim_checks`` / ``report_results`` for the probe endpoints); :mod:`.service` runs it
all inside `roost up`, and :mod:`.probe` is the remote `roost probe` loop.
"""
