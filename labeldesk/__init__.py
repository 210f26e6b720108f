"""labeldesk: offline-first desktop annotation."""

__version__ = "0.2.0"
