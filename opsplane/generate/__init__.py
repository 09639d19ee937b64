"""Generators that are not dashboards or alerts: the scaffold of a new service
(layer 5)."""
