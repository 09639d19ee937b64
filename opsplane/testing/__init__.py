"""Test tools: the black-box runner, the shutdown drill, processes and containers
for tests (layer 5)."""
