"""opsplane: the glue -- service spec, metric dictionary, runtime kit, tools.

Importing it has no side effects; submodules load what they need when used.
"""

__all__: list[str] = []
