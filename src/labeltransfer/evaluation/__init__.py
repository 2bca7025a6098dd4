"""The metrics every method is judged by, the comparison's summary tables and its figures."""
