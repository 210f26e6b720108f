import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LABELDESK_USER", "tester")
# Qt settings of this test run (and of the app processes it starts) stay out of the user's config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="labeldesk-test-config-")
