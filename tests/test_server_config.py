"""The server settings `streamlit run app.py` reads from .streamlit/config.toml, as Streamlit
itself parses them (a misspelt key would be ignored silently)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ("runner.postScriptGC", "server.fileWatcherType", "server.runOnSave",
           "client.showErrorDetails")


def _options() -> dict:
    code = ("import json; from streamlit import config; "
            f"print(json.dumps({{k: config.get_option(k) for k in {OPTIONS!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_server_does_not_collect_all_garbage_after_every_page_run():
    """Streamlit's default runs a full collection after each page run: with PyTorch loaded that
    takes 0.2-0.35 s holding the interpreter, and with ten visitors' live views rerunning every
    second a 2-core server spent its time collecting and left clicks unanswered."""
    assert _options()["runner.postScriptGC"] is False


def test_a_class_server_neither_watches_nor_reloads_its_source_nor_shows_tracebacks():
    options = _options()
    assert options["server.fileWatcherType"] == "none" and options["server.runOnSave"] is False
    assert options["client.showErrorDetails"] == "none"
