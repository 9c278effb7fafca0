"""The four pages (Now, Report, Rituals, Journal), pairing, and the JSON API.

Handlers stay short: they read through the journal's own API (:mod:`voicecoach.journal.store`), the report's
aggregation (:mod:`voicecoach.journal.report`), the schedule form (:mod:`.schedule`) and the status source, and
hand typed values to the templates. The journal is the kiosk's own open one (or, for ``voicecoach web`` alone,
one opened once), never created by a page that only reads.
"""

from __future__ import annotations

import json
import logging
from itertools import chain
from typing import Any

from flask import (Blueprint, Response, abort, flash, get_flashed_messages, jsonify, redirect, render_template,
                   request, session, url_for)
from markupsafe import Markup

from .. import app as app_parts
from ..errors import InputError, VoicecoachError
from ..journal import charts
from ..journal import report as rep
from . import schedule
from .app import context

log = logging.getLogger(__name__)
pages = Blueprint("pages", __name__)
DEFAULT_WEEKS = 12


# --- the journal, as the pages read it -------------------------------------------------------------------------

def _weeks_arg() -> int:
    raw = request.args.get("weeks", str(DEFAULT_WEEKS))
    try:
        weeks = int(raw)
    except ValueError:
        abort(400)
    if not 1 <= weeks <= rep.MAX_WEEKS:
        abort(400)
    return weeks


def _report(weeks: int) -> rep.Report:
    """The report of the last ``weeks`` weeks, summed by the journal's own queries a chunk of rows at a time (years
    of a kiosk's events are never read into memory at once)."""
    ctx = context()
    now = ctx.local_now()
    now = now if now.tzinfo is not None else now.astimezone()  # an aware one keeps its zone (the kiosk's LocalTime)
    journal = ctx.journal.get()
    rows: Any = journal.report_rows() if journal is not None else {}
    return rep.build_report(rows, rep.last_weeks(weeks, now), now)


def _render(template: str, **values: Any) -> str:
    ctx = context()
    config = values.pop("config", None) or ctx.config()
    return render_template(template, config=config, csrf=session.get("csrf"),
                           names=(config.partners.a_name, config.partners.b_name),
                           messages=get_flashed_messages(with_categories=True), page=template.split(".")[0],
                           live=ctx.controls is not None, **values)


# --- pairing ---------------------------------------------------------------------------------------------------

@pages.get("/pair")
def pair() -> Any:
    """The pairing form (the only page a browser that has not paired can open)."""
    return _render("pair.html", error=None)


@pages.post("/pair")
def pair_post() -> Any:
    """Check a pairing code (rate-limited per address and overall)."""
    ctx = context()
    client = request.remote_addr or "?"
    now = ctx.wall()
    if not ctx.pair_limit.allow(client, now):
        log.warning("web: pairing attempts from %s are coming too fast; refused for now", client)
        resp = Response(_render("pair.html", error="Too many tries. Wait a minute, then try again."), status=429)
        resp.headers["Retry-After"] = str(ctx.pair_limit.retry_after_s(client, now))
        return resp
    result = ctx.codes.check(request.form.get("code", ""), now)
    if not result.ok:
        log.info("web: a wrong or expired pairing code from %s", client)
        return _render("pair.html", error=result.message), 403
    session.clear()
    session.permanent = True
    session["paired"] = True
    from .security import new_token

    session["csrf"] = new_token()  # a new session after pairing: nothing from before carries over
    log.info("web: a browser at %s paired", client)
    flash(result.message, "ok")
    return redirect(url_for("pages.now"))


# --- Now -----------------------------------------------------------------------------------------------------------

@pages.get("/")
def index() -> Any:
    """The Now page."""
    return redirect(url_for("pages.now"))


@pages.get("/now")
def now() -> Any:
    """Status of the parts, the next ritual, and the two buttons."""
    from ..checkin.library import Library

    ctx = context()
    return _render("now.html", status=ctx.status.status(), scripts=Library.load().names())


@pages.post("/now/pause")
def pause_now() -> Any:
    """"Pause now": the same as a partner saying "pause"."""
    ctx = context()
    if ctx.controls is None:
        flash("The kiosk is not running in this process, so it cannot start the pause.", "warn")
    else:
        flash(ctx.controls.pause_now(), "ok")
    return redirect(url_for("pages.now"))


@pages.post("/now/checkin")
def start_checkin() -> Any:
    """"Start a check-in": offered out loud, consent first ("Is now a good time?")."""
    from ..checkin.library import Library

    ctx = context()
    name = request.form.get("script", "")
    if name not in Library.load().names():
        abort(400)
    if ctx.controls is None:
        flash("The kiosk is not running in this process, so it cannot start a check-in.", "warn")
    else:
        flash(ctx.controls.start_checkin(name), "ok")
    return redirect(url_for("pages.now"))


# --- Report --------------------------------------------------------------------------------------------------------

@pages.get("/report")
def report() -> Any:
    """This week's figures and the weekly trend, charts drawn inline as SVG."""
    config = context().config()
    names = (config.partners.a_name, config.partners.b_name)
    weeks = _weeks_arg()
    rpt = _report(weeks)
    svgs = [Markup(charts.panel_svg(p)) for p in charts.report_panels(rpt, *names)]
    summary = rep.summary_text(rpt, *names).split("\n\n  week of")[0].splitlines()
    return _render("report.html", config=config, report=rpt, this_week=rpt.weeks[-1], weeks=weeks,
                   charts=svgs, summary=[line.strip() for line in summary[1:] if line.strip()],
                   empty=rpt.empty)


# --- Rituals -------------------------------------------------------------------------------------------------------

def _rituals_page(values: dict[str, Any], error: str | None = None, status: int = 200) -> Any:
    from ..checkin.library import Library

    library = Library.load()
    scripts = [(e.name, e.script.title if e.script else "", e.broken, e.error) for e in library.entries
               if not e.broken or e.source == "user"]
    timed = [n for n in library.names() if library.get(n).offer_on_schedule]  # the slots offer only these
    return _render("rituals.html", values=values, error=error, scripts=scripts, timed=timed,
                   days=schedule_days()), status


def schedule_days() -> list[tuple[str, str]]:
    """The weekday choices of the form: ("", "no weekly meeting"), ("mon", "Monday"), ..."""
    return [("", "no weekly meeting")] + list(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                                                 ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                                  "Sunday")))


@pages.get("/rituals")
def rituals() -> Any:
    """The schedule form and the check-in scripts."""
    return _rituals_page(schedule.current(context().config()))


@pages.post("/rituals")
def rituals_post() -> Any:
    """Save the schedule: validated like the config file, written atomically, picked up by the kiosk."""
    ctx = context()
    try:
        schedule.save(ctx.config_path, request.form)
    except InputError as exc:
        return _rituals_page({**schedule.current(ctx.config()), **_submitted()}, str(exc), 400)
    except VoicecoachError as exc:
        return _rituals_page({**schedule.current(ctx.config()), **_submitted()}, str(exc), 500)
    log.info("web: schedule saved to %s", ctx.config_path)
    if ctx.on_schedule_saved is not None:
        ctx.on_schedule_saved(ctx.config())
    flash("Saved." + (" The kiosk uses the new schedule from now on." if ctx.controls is not None else
                      " A running kiosk picks it up within a few seconds."), "ok")
    return redirect(url_for("pages.rituals"))


def _submitted() -> dict[str, Any]:
    values: dict[str, Any] = {k: request.form.get(k, "")[:schedule.MAX_FIELD_CHARS] for k in schedule.FORM_KEYS}
    values["quiet_suggestions"] = request.form.get("quiet_suggestions") == "on"
    return values


@pages.get("/rituals/rehearsal/<name>.wav")
def rehearsal(name: str) -> Any:
    """The script rendered as the couple would hear it (long silences shortened)."""
    try:
        data = context().rehearsals.wav(name)
    except InputError:
        abort(404)
    return Response(data, mimetype="audio/wav", headers={"Cache-Control": "private, max-age=600"})


# --- Journal -------------------------------------------------------------------------------------------------------

def _voice_notes(config: Any) -> Any:
    """The voice-note store, or None when the couple has not opted in (or there is no journal yet)."""
    journal = context().journal.get()
    if not config.journal.voice_notes or journal is None:
        return None
    from ..journal.notes import VoiceNotes

    return VoiceNotes(journal, True, config.journal.note_max_s)


@pages.get("/journal")
def journal() -> Any:
    """What the journal holds, export, erase, voice notes."""
    from ..journal.schema import TABLES

    config = context().config()
    journal = context().journal.get()  # counted, not exported: a year of kiosk events is hundreds of MB as rows
    counts = journal.counts() if journal is not None else dict.fromkeys(TABLES, 0)
    notes = _voice_notes(config)
    return _render("journal.html", config=config, counts=counts, notes=notes.list_notes() if notes else None,
                   kept=app_parts.kept_after_erase(context().config_path, context().journal.path))


@pages.get("/journal/export.json")
def journal_export() -> Any:
    """Everything in the journal as one JSON file (voice notes as metadata only), sent as it is read: a chunk of
    rows at a time, never the whole journal in memory."""
    journal = context().journal.get()
    if journal is None:
        body: Any = json.dumps({"format": "voicecoach-journal"}, indent=1, ensure_ascii=False)
    else:
        pieces = journal.export_json(indent=1)
        body = chain([next(pieces)], pieces)  # the first piece now: a journal that cannot be read is the error page
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=voicecoach-journal.json"})


@pages.post("/journal/erase")
def journal_erase() -> Any:
    """Erase everything, once the word "erase" was typed to confirm."""
    if request.form.get("confirm", "").strip().lower() != "erase":
        flash("Nothing was erased: type the word erase in the box to confirm.", "warn")
        return redirect(url_for("pages.journal"))
    from ..journal.files import NothingErased

    journal = context().journal.get()
    problems = []
    if journal is not None:
        try:
            journal.erase()
        except NothingErased as exc:  # the journal is as it was: the voice profile stays with it
            flash(f"Could not erase: {exc}.", "warn")
            return redirect(url_for("pages.journal"))
        except VoicecoachError as exc:
            problems.append(f"Could not erase: {exc}.")
    try:
        profile = app_parts.erase_profile()  # personal data beside the journal: it goes with the same "erase"
        if profile and problems:  # the journal's line alone would leave the profile's fate unsaid
            problems.append(f"{app_parts.PROFILE_WHAT.capitalize()} was erased.")
    except (OSError, ValueError) as exc:
        problems.append(f"{app_parts.PROFILE_WHAT.capitalize()} could not be deleted "
                        f"({getattr(exc, 'strerror', None) or exc}): delete {app_parts.profile_path()} by hand.")
    if problems:
        flash(" ".join(problems), "warn")
        return redirect(url_for("pages.journal"))
    log.info("web: the journal was erased from the page")
    flash("The journal was erased: every talk, event, check-in and voice note is gone"
          + (f", and {app_parts.PROFILE_WHAT}." if profile else "."), "ok")
    return redirect(url_for("pages.journal"))


@pages.post("/journal/notes/<int:note_id>/delete")
def note_delete(note_id: int) -> Any:
    """Delete one voice note (its index entry, then its file)."""
    from ..journal.store import JournalValueError

    notes = _voice_notes(context().config())
    if notes is None:
        abort(404)
    try:
        notes.delete_note(note_id)
    except JournalValueError:
        abort(404)
    flash("The voice note was deleted.", "ok")
    return redirect(url_for("pages.journal"))


# --- the API -------------------------------------------------------------------------------------------------------

@pages.get("/api/status")
def api_status() -> Any:
    """The Now page's status as JSON."""
    return jsonify(context().status.status().to_dict())


@pages.get("/api/report")
def api_report() -> Any:
    """``?weeks=N`` (1-520, default 12): every week's figures and the totals, as JSON."""
    return jsonify(rep.report_dict(_report(_weeks_arg())))
