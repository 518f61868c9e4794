"""Helpers shared by test modules (not fixtures: those live beside the tests that use them)."""
