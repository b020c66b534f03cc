"""Headless renderers behind ``python -m explorer TOPIC`` (matplotlib, Agg)."""
