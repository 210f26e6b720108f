"""`python -m labeldesk` and the PyInstaller entry point."""
import sys

from labeldesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
