"""The standard chart (``helm/service``), its values from the spec and the Helm engine
that renders and lints it (layer 5)."""
