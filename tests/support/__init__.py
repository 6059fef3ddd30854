"""Helpers shared by the tests (imported as ``support.*`` through pytest's ``pythonpath``)."""

from pathlib import Path

#: The repository's root folder (spec/, notebooks/, js/ live there).
REPO_ROOT = Path(__file__).resolve().parents[2]
