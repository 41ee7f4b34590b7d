"""The swarm runtime: apps as Docker swarm services (service.py), see docs/scaling.md."""
