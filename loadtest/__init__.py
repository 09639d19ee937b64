"""loadtest: Locust load profiles, resource sampling, recommend-limits.

Locust (and its gevent monkey-patching) is imported only inside the commands that run it.
"""

__all__: list[str] = []
