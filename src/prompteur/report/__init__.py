"""Reports of runs: the terminal summary and output files."""

from ._outputs import OUTPUT_FORMATS, OutputFile, output_sink
from ._summary import summary_dict
from ._terminal import print_summary

__all__ = ["OUTPUT_FORMATS", "OutputFile", "output_sink", "print_summary", "summary_dict"]
