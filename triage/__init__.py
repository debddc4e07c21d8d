"""Triage: normalise, deduplicate, classify, prioritise and route feedback."""
