"""The analysis of stored runs: paired comparisons, which prompt of one run stands for
which of another, run-over-run comparison, and a suite's history with its drift alarms."""
