"""The runtime kit a service imports: health, metrics, request logs, serve, worker,
settings (layer 4)."""
