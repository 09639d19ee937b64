"""The service spec, its SLOs, the metric dictionary and the organisation file:
what the generators and the runtime kit read (layer 2)."""
