"""Whole-pipeline benchmark: open-loop paid orders through the sandbox store (bench/pipeline/__main__.py)."""
