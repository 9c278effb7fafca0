"""``voicecoach checkin [NAME]``: a timed check-in, talked through hands-free."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import InputError
from . import check_wav_output, config_of, print_out, write_wav_output
from .listen import NO_UI_KEYS, add_device_args

ORDER = 12
RAN_OUT = ("(the scripted answers ran out: the check-in stops here; give more answers to --answers to go further, "
           "or leave --answers out to answer by voice or keys)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``checkin`` subcommand."""
    p = sub.add_parser("checkin", parents=[common], help="run a check-in ritual (nightly, weekly, repair, ...)")
    p.add_argument("name", nargs="?", default="nightly",
                   help="script name (default: nightly; see: voicecoach scripts list)")
    add_device_args(p)
    p.add_argument("--answers", metavar="LIST",
                   help="comma-separated scripted answers (yes,next,not_now,-,!interrupt,...) instead of listening; "
                        "live, the check-in stops when they run out")
    p.add_argument("--to", metavar="FILE.wav", type=Path,
                   help="with --answers: rehearse offline, rendering every prompt into this WAV (in seconds)")
    p.add_argument("--no-ui", action="store_true",
                   help=f"as for listen: {NO_UI_KEYS}; a check-in always prints plain lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the check-in live, or rehearse it offline with scripted answers."""
    from .. import app
    from ..rehearse import check_answers

    config = config_of(args)
    if args.to is not None:
        _check_rehearsal(args)
    # An unknown or broken script: one-line InputError first. Broken user scripts are then reported once: here
    # for a rehearsal, by the live loop's own runner factory otherwise.
    runner = app.runner_factory(config, report_broken=False)(args.name)
    answers = _scripted_answers(args.answers)
    check_answers(answers, runner.choices())  # a typo would be a silence or a wrong turn, with no word said
    if args.to is not None:
        app.report_broken_scripts()
        return _rehearse(config, runner, answers, args)
    return _live(config, answers, args)


def _scripted_answers(text: str | None) -> list[str]:
    """The comma-separated ``--answers`` as a list; an empty one, or an empty answer in it, is refused."""
    if text is None:
        return []
    answers = [a.strip() for a in text.split(",")]
    if not any(answers):  # was a live check-in stored in the journal, or all silence
        raise InputError("--answers is empty: give the scripted answers separated by commas, e.g. --answers "
                         "yes,next,- (- is a silence), or leave --answers out to answer by voice")
    if "" in answers:  # was dropped without a word: the answers after it went to earlier turns than counted
        raise InputError(f"--answers: answer {answers.index('') + 1} of {len(answers)} is empty (in {text!r}): "
                         f"give - for a silence there, or remove the extra comma")
    return answers


def _check_rehearsal(args: argparse.Namespace) -> None:
    """Refuse a rehearsal without answers or with a --to that cannot be written, before any script is read."""
    if args.answers is None:
        raise InputError("--to needs --answers (the scripted answers for an offline rehearsal)")
    for option, device in (("--input", args.input), ("--output", args.output)):  # was: ignored without a word
        if device is not None:
            raise InputError(f"--to rehearses offline into a WAV file, so {option} {device} would not be used: "
                             f"leave out {option}, or --to to run the check-in live on that device")
    check_wav_output(Path(args.to), "--to")  # found before the rehearsal renders every prompt


def _rehearse(config, runner, answers: list[str], args: argparse.Namespace) -> int:
    from .. import app
    from ..rehearse import rehearse

    speaker = app.make_speaker(config, render_only=True)
    # The transcript ends with "(finished: completed)": the runner's own "check-in NAME ended: ..." line came in the
    # middle of it too (logged when the end is decided, before the last words' lines), unless --debug asks for all.
    runner_log = logging.getLogger("voicecoach.checkin.runner")
    level = runner_log.level
    if runner_log.getEffectiveLevel() == logging.INFO:
        runner_log.setLevel(logging.WARNING)
    try:
        result = rehearse(runner, answers, render=speaker.render, on_line=print_out)
    finally:
        runner_log.setLevel(level)
        speaker.close()
    if result.audio is None:
        raise InputError(f"nothing to write to {args.to}: the rehearsal produced no audio")
    write_wav_output(args.to, result.audio)
    print_out(f"rehearsed {args.name}: {result.duration_s / 60:.1f} min of session time, "
              f"{len(result.lines)} lines; audio in {args.to}")
    return 0


def _live(config, answers: list[str], args: argparse.Namespace) -> int:
    """The check-in on the live loop; it ends with the script (or a signal), and prints the talk's summary."""
    from ..commands import Command, Source
    from ..journal.schema import TalkSource
    from ..rehearse import ScriptedAnswers
    from ..runtime_live import Live, LiveSpec
    from ..ui import single_keys_wanted

    from . import print_line as line  # a reader that stopped (| head -1) drops the output, not the check-in

    # --no-ui, as for listen: keys read a line at a time (a word like "yes", or a key, then Enter), the terminal
    # never put in single-key mode (a screen reader, a terminal that mishandles it, typing "yes" as a word)
    spec = LiveSpec(TalkSource.CHECKIN, input=args.input, output=args.output, keys=not answers,
                    single_keys=not answers and single_keys_wanted(args.no_ui))
    # Scripted answers are a rehearsal on the live loop, not the couple's check-in: nothing goes into the journal.
    live = Live.build(config, spec, on_line=line, on_unspoken=lambda t: line(f"(not spoken) {t}"),
                      journal=None if answers else "open", notes=None if answers else "open")
    if answers:
        def ran_out() -> None:
            # The keyboard is off and nothing is stored: waiting out every turn in real time (up to 45 min) would
            # only leave the user watching a silent check-in. It ends the way "stop" ends it, said as such.
            line(RAN_OUT)
            live.submit(Command.STOP, Source.SCRIPT)

        scripted = ScriptedAnswers(answers, on_answer=lambda a: line(f"(answer: {a.replace('_', ' ')})"),
                                   on_out=ran_out)
        live.on_tick(lambda: scripted.feed(live))
    if not answers:  # with no speech model (a fresh install) the keys are the only way to answer "Say yes ..."
        from .. import app
        from ..ui import KEY_HELP
        from .listen import ListenLines

        # no microphone (none plugged in, the sound server down): said as listen says it. The check-in went on
        # deaf without a word, its questions running out in silence (the microphone's retries logged at debug)
        live.observe(ListenLines(line, "see the keys line above", listening_line=False))

        notice = app.first_run_notice()  # what voicecoach is and is not: a couple may begin with a check-in
        if notice:
            print(notice + "\n", file=sys.stderr)
        line(KEY_HELP)
    live.session.start_checkin(args.name)
    summary = live.serve(until=lambda: live.router.runner is None and not live.speaker.busy())
    print(summary.text())
    return 0
