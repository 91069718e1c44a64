"""Consistency reports, reviews, decisions, guidelines and taxonomy versions (next issues)."""
