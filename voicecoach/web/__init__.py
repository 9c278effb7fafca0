"""The kiosk's own page on the home network (``voicecoach web``, or the kiosk with ``[web] enabled = true``).

Flask (imported only when the page is started) behind waitress, both pure Python. Modules: ``settings`` ([web]),
``security`` (pairing code, sessions, CSRF, rate limits), ``schedule`` (the Rituals form, validated like the
config file and written atomically), ``status`` (the Now page's typed status), ``app`` (routes and pages),
``runtime`` (the server thread).
"""

from __future__ import annotations

PAGE_LIBRARIES = ("flask", "waitress")  # the page's own dependencies (pyproject.toml), added after 23 November


def missing_libraries() -> str | None:
    """One line naming the page's Python packages this installation lacks, and the fix; None when all are there.

    They were added to the dependencies with the page, so a checkout updated with ``git pull`` alone (the kiosk's
    service never runs the set-up itself) has none of them; looked up without importing them."""
    from importlib.util import find_spec

    missing = [name for name in PAGE_LIBRARIES if find_spec(name) is None]
    if not missing:
        return None
    return (f"the home page needs the Python package{'s' if len(missing) > 1 else ''} {' and '.join(missing)}, "
            f"not installed here (an update added {'them' if len(missing) > 1 else 'it'}): run scripts/setup in "
            f"voicecoach's folder (for the kiosk: sudo scripts/install-kiosk), then start it again")
