"""contract-check: does the Store still work with this Core?"""

__version__ = "0.1.0"
