"""Benchmarks: freight beside dlt and beside the raw driver path (``python -m bench``).

Nothing here is imported by the library or by its tests.
"""
