"""Homeroom benchmarks (issue 8). Not tests: run `python -m bench` (all) or `python -m bench NAME`.

Each benchmark prints its figures; docs/BENCHMARKS.md records the results and the commands.
"""
