"""The ``opsplane`` command line and the demo (layer 6)."""
