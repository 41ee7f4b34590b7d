"""Performance monitoring: OTLP ingest, per-endpoint latency sketches, findings, queries."""
