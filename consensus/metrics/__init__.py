"""Pure agreement math: NumPy arrays in, small frozen result objects out.

Nothing in this package imports Django or LabelHub's apps (a ruff ``banned-api`` rule in
``consensus/metrics/ruff.toml`` and ``consensus/tests/test_metrics_purity.py`` keep it so), so the
formulas can be tested, benchmarked and reused without a database.
"""
