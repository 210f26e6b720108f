"""labeldesk: offline-first desktop annotation."""

__version__ = "0.1.0"
