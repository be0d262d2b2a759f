"""The test cluster itself, as its administrator handles it (``make test`` starts it)."""

from __future__ import annotations

import os
import subprocess


def restart_cluster(mode: str = "fast") -> None:
    """``pg_ctl restart -m MODE`` of the test cluster: every session is cut."""
    data, bindir = os.environ["IPAI_OPS_PG_DATA"], os.environ["IPAI_OPS_PG_BINDIR"]
    log = os.path.join(os.path.dirname(data), "server.log")
    command = [f"{bindir}/pg_ctl", "-D", data, "-l", log, "-m", mode, "-w", "restart"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    # no pipes: the restarted postmaster would inherit them and they would never close
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
