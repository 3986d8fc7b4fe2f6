"""The ground floor: errors, the result types the runner and the store share, JSON,
redaction of secrets, trust, and loading Python files."""
