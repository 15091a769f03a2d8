"""Workflows: each runs one step on prepared samples and returns a Run object holding
everything its outputs need; they write nothing (core.reports turns a Run into files)."""
