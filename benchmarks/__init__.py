"""Benchmarks of serverless-patterns: synthesis, handlers, cold-start proxies and the test suite.

``make bench`` runs ``benchmarks/run.py``. Nothing here is imported by the library; every module
keeps its imports light so that each kind of measurement can run in a process of its own.
"""
