"""contract-check: does the Store still work with this Core?"""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package's root: the tool's source digest covers all of it, and nothing is ever written inside it."""
