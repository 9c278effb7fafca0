"""``[hooks] command``: a local program run once per event with the event as one JSON object on stdin.

No shell: the program and its arguments are given as a list and run directly, so nothing in an event can become
a command. It gets the same counts-only event the broker gets, and is stopped after ``command_timeout_s``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from typing import Any

log = logging.getLogger(__name__)


class CommandHook:
    """Runs ``argv`` with an event on stdin; failures are logged (one line each), never raised."""

    def __init__(self, argv: tuple[str, ...], timeout_s: float) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s

    def send(self, event: dict[str, Any]) -> bool:
        """Run the program once for ``event``; True when it exited 0."""
        data = (json.dumps(event, sort_keys=True) + "\n").encode("utf-8")
        try:
            result = subprocess.run(self.argv, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    timeout=self.timeout_s, shell=False, check=False, close_fds=True)
        except FileNotFoundError:
            log.warning("hooks: the program %s does not exist (fix [hooks] command)", self.argv[0])
            return False
        except PermissionError:
            log.warning("hooks: the program %s cannot be run (is it executable? chmod +x it)", self.argv[0])
            return False
        except subprocess.TimeoutExpired:
            log.warning("hooks: %s took longer than %.0f s for a %s event and was stopped", self.argv[0],
                        self.timeout_s, event.get("event_type"))
            return False
        except OSError as exc:
            log.warning("hooks: cannot run %s (%s)", self.argv[0], exc.strerror or exc)
            return False
        if result.returncode != 0:
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            log.warning("hooks: %s exited with %d for a %s event%s", self.argv[0], result.returncode,
                        event.get("event_type"), f": {lines[-1][:200]}" if lines else "")
            return False
        return True


def program_problem(program: str) -> str | None:
    """Why ``program`` (``[hooks] command``'s first item) could not be run, or None when it can."""
    found = shutil.which(program) if os.sep not in program else program
    if found is None:
        return f"{program} is not on the PATH (give the full path)"
    if not os.path.exists(found):
        return f"{found} does not exist"
    if os.path.isdir(found):
        return f"{found} is a folder, not a program"
    if not os.access(found, os.X_OK):
        return f"{found} is not executable (chmod +x {found})"
    return None
