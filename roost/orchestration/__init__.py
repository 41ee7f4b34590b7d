"""Orchestration: the flows that tie subsystems together (the typed platform, the deploy
pipeline, asset flow, vulnerability watch, alerts, add-ons, the services of `roost up`).

`core/` keeps the domain rules; this package is where they meet the runtime, the build,
the monitors and the notifier.
"""
