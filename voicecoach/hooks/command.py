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
    """Runs ``argv`` with an event on stdin; failures are logged, never raised.

    A failure is logged once, not for every event: a missing program or one that hangs on a dead web address would
    otherwise fill the kiosk's log with the same line all evening. A different failure is logged again, and so is
    the program working again (with how many events it missed)."""

    def __init__(self, argv: tuple[str, ...], timeout_s: float) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.failed = 0  # events not delivered since the program last worked
        self._problem = ""  # the kind of the failure logged last ("" while it works)

    def send(self, event: dict[str, Any]) -> bool:
        """Run the program once for ``event``; True when it exited 0."""
        problem, message = self._run(event)
        if not problem:
            if self._problem:
                log.info("hooks: %s works again (%d event%s before were not delivered)", self.argv[0],
                            self.failed, "s" * (self.failed != 1))
            self._problem, self.failed = "", 0
            return True
        self.failed += 1
        if problem != self._problem:
            log.warning("hooks: %s (said once until it changes or works again)", message)
            self._problem = problem
        return False

    def _run(self, event: dict[str, Any]) -> tuple[str, str]:
        """(kind of failure, what to log), or ("", "") when the program exited 0."""
        data = (json.dumps(event, sort_keys=True) + "\n").encode("utf-8")
        program, kind = self.argv[0], event.get("event_type")
        try:
            result = subprocess.run(self.argv, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    timeout=self.timeout_s, shell=False, check=False, close_fds=True)
        except FileNotFoundError:
            return "missing", f"the program {program} does not exist (fix [hooks] command)"
        except PermissionError:
            return "denied", f"the program {program} cannot be run (is it executable? chmod +x it)"
        except subprocess.TimeoutExpired:
            return "timeout", f"{program} took longer than {self.timeout_s:.0f} s for a {kind} event and was stopped"
        except OSError as exc:
            return "oserror", f"cannot run {program} ({exc.strerror or exc})"
        if result.returncode != 0:
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            return (f"exit {result.returncode}", f"{program} exited with {result.returncode} for a {kind} event"
                    + (f": {lines[-1][:200]}" if lines else ""))
        return "", ""


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
