"""Which process an MLflow run belongs to, and whether it still lives (KilledRunMlflowHook)."""

from __future__ import annotations

import os
import subprocess
import sys

from insole_mtl.hooks import _process_alive, _process_start


def test_a_live_process_with_its_start_time_is_alive_and_a_finished_one_is_not():
    me = os.getpid()
    start = _process_start(me)
    assert start.isdigit()
    assert _process_alive(me, start) and _process_alive(me, "")
    assert not _process_alive(me, str(int(start) + 1))  # same pid, another process (a reused pid)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _process_alive(child.pid, "")
    assert _process_start(child.pid) == ""
