"""`python -m labeldesk` and the PyInstaller entry point."""
import sys

if getattr(sys, "frozen", False) and len(sys.argv) > 1 and (
        sys.argv[1] == "--multiprocessing-fork" or "-c" in sys.argv[1:]):
    # a worker process the frozen app started (ProcessPoolExecutor with the spawn or forkserver
    # start method: Windows, macOS); only then is multiprocessing imported at start-up
    import multiprocessing
    multiprocessing.freeze_support()

from labeldesk.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
