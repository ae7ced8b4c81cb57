"""bulk-provision: provision users into Glance from a roster spreadsheet."""

__version__ = "0.1.0"

__all__ = ["__version__"]
