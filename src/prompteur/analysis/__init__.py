"""The analysis of stored runs: paired comparisons, which prompt of one run stands for
which of another, and run-over-run comparison."""
