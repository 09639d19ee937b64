"""The orders reference service (see ../service.yaml and app.py)."""
