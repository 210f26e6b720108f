import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LABELDESK_USER", "tester")
# Qt settings of this test run (and of the app processes it starts) stay out of the user's config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="labeldesk-test-config-")


import pytest  # noqa: E402


@pytest.fixture
def v10_project():
    """Makes, at a given folder, the version-10 project that the tree of 2b82f02 wrote (ops with
    AUTOINCREMENT, a rowid outbox; ``tests/core/store/fixtures/project_v10.sql``), as if made
    there (its instance nonce, so it keeps its device identity). Returns the folder."""
    import sqlite3
    from pathlib import Path

    from labeldesk.core.project import STORE_NAME, _instance_nonce
    dump = Path(__file__).parent / "core" / "store" / "fixtures" / "project_v10.sql"

    def make(root: Path) -> Path:
        root.mkdir()
        store = root / STORE_NAME
        conn = sqlite3.connect(store, isolation_level=None)
        conn.executescript(dump.read_text("utf-8"))
        conn.execute("PRAGMA user_version = 10")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'instance_nonce'", (_instance_nonce(store),))
        conn.close()
        return root
    return make
