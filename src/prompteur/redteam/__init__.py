"""Safety, bias and robustness: generated suites (attacks, counterfactual swaps, perturbed
copies) run through the same runner as ``eval``, graded by detectors that are assertions."""
