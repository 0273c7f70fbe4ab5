"""Speed benchmarks of sarco (``python -m benchmarks [--quick] [--json]``); results in docs/benchmarks.md."""
