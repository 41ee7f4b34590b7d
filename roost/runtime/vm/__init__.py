"""The ``vm`` runtime: apps on VMs reached over SSH, each process a systemd unit there."""
