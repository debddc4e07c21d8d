"""Sinks: write triaged feedback to its destination, exactly once."""
