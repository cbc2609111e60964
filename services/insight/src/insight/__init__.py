"""Insight: the city's talent statistics, built only from the other services' events."""
