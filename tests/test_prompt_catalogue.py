"""Every sentence voicecoach can say aloud or print as a prompt suggests or invites: none orders a partner about,
judges one, or takes a side ("It suggests, never commands").

The catalogue is read from the product itself, so a sentence added later is scanned too: the literal text of
every ``Say(...)`` / ``.say(...)`` call in the package (f-strings with their fields as ``{}``), the step types'
default prompts, the named prompt constants, the built-in check-in scripts' every text, and the agreed pause's
default phrase. Before the consent audit the scan found 19 sentences (26 findings), e.g. "{listener}, just listen
for now.", "{listener}, listen, take {speaker}'s side, ...", "Try not to explain it away.", "Pick one when you can.",
"Just breathe.", and calibrate's "Start after the tone." (no tone is played).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import NamedTuple

import voicecoach
from voicecoach.actions import Say
from voicecoach.asr.lang import BUILTIN_DIR, load_language, read_pack
from voicecoach.checkin.runner import Phase, ScriptRunner
from voicecoach.checkin.script import load_script_file
from voicecoach.checkin.settings import CheckinSettings
from voicecoach.checkin.steps import REST_HELP
from voicecoach.commands import ClapChoice, Command
from voicecoach.coach import Coach
from voicecoach.config import PauseSettings
from voicecoach.events import PauseSuggested

PACKAGE = Path(voicecoach.__file__).parent
PROMPT_CONSTANTS = {"MOVE_ON", "REST_HELP", "TAKE_YOUR_TIME", "STILL_FINDING", "PROMPT", "SETTINGS_PROBLEM",
                    "DEFAULT_CONSENT", "NOTES_OFF", "NOTES_NOT_HERE"}
PROMPT_KEYS = {"text", "end_text", "confirm", "correct_text", "yes_text", "not_now_text", "consent"}

# An order to a partner, a judgement of one, or a side taken. Each pattern is one the audit found (or its obvious
# kin); "say yes, or not now" and "say pause" tell how to answer the product and are not orders to a partner.
JUDGING = [
    (r"\bcalm down\b", "an order to calm down"),
    (r"\bstop (shouting|yelling|interrupting|arguing)\b", "an order to stop"),
    (r"\b(you are|you're) (shouting|yelling|interrupting|being|too)\b", "a judgement of a partner"),
    (r"\b(too loud|raised? your voice|lower your voice|be quiet|shut up)\b", "a judgement of the voice"),
    (r"\byou (must|have to|need to|should)\b", "an obligation"),
    (r"\b(don't|do not|try not to)\b", "a prohibition"),
    (r"\bjust listen\b|\blisten without interrupting\b", "an order to the listener (that implies a fault)"),
    (r"\bexplain it away\b", "a judgement of what a partner will say"),
    (r"\btake \S+ side\b|\bon the speaker's side\b|\bwho (is|was) (to blame|wrong)\b", "a side taken"),
    (r"\{(speaker|listener)\}, (listen|stop|say|pick|keep|try|speak|name|share|be|take|tell)\b",
     "a bare imperative to a named partner"),
    (r"(^|[.?!] )(pick|keep|try|speak|name|listen|stop) |(^|[.?!] )take \{|\bjust breathe\b", "a bare imperative"),
    (r"after the tone", "a tone that is never played (calibrate speaks, then records)"),
]


def _literal(node: ast.expr) -> str | None:
    """The text of a string constant or f-string (its fields as ``{}``); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        return (left or "{}") + (right or "{}") if left is not None or right is not None else None
    return None


def _from_source(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            text = _literal(node.args[0])
            if name in ("Say", "say", "_say") and text is not None:  # _say: calibrate's say-and-print
                out.append(text)
            elif name == "finish" and len(node.args) == 2:  # the runner's last words
                out.append(_literal(node.args[1]) or "")
            elif name == "setdefault" and len(node.args) == 2 and _literal(node.args[0]) in PROMPT_KEYS:
                out.append(_literal(node.args[1]) or "")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in PROMPT_CONSTANTS
                                                  for t in node.targets):
            out.append(_literal(node.value) or "")
    return [t for t in out if t.strip()]


def _from_script(path: Path) -> list[str]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    texts = [data.get("consent", "")]
    for step in data.get("steps", []):
        texts += [v for k, v in step.items() if k in PROMPT_KEYS and isinstance(v, str)]
    return [t for t in texts if t]


class Prompt(NamedTuple):
    """One prompt: where it comes from, its text, and the choice it offers (said for a clap with no model)."""

    where: str
    text: str
    choice: ClapChoice | None = None


def _played(path: Path, names: tuple[str, str]) -> list[Prompt]:
    """Every prompt of a built-in script as the runner says it to a couple with these names (rendered: a choice's
    "Say now or later." is built from its options), moved on with "next"; at each choice also its re-prompt after
    silence, its help and its repeat, before "skip"."""
    runner = ScriptRunner(load_script_file(path), names, CheckinSettings(), speech_wpm=float("inf"))
    actions, now = list(runner.start(0.0, consented=True)), 0.0
    while not runner.done and now < 500:
        now += 1.0
        answers = (None, Command.HELP, Command.REPEAT, Command.SKIP) if runner.phase is Phase.CHOOSE else \
            (Command.HELP, Command.NEXT)
        for answer in answers:
            actions += runner.heard(answer, now)
    assert runner.done, path
    where = f"checkin/builtin/{path.name} played ({' and '.join(names)})"
    return [Prompt(where, a.text, a.choice) for a in actions if isinstance(a, Say)]


def _helps() -> list[Prompt]:
    """What the help (the h key, "help") says where ``_played`` does not ask for it: the coach's, listening, at its
    suggestion, in the pause and at the welcome back; a check-in's at its consent and at "shall I ask again later?"."""
    said: list[Prompt] = []
    coach = Coach(PauseSettings())
    said += [Prompt("coach.py help", a.text) for a in coach.heard(Command.HELP, 0.0) if isinstance(a, Say)]
    coach.on_event(PauseSuggested(t=0.0, reason="test"), 1.0)
    said += [Prompt("coach.py help (asking)", a.text) for a in coach.heard(Command.HELP, 2.0) if isinstance(a, Say)]
    coach.heard(Command.YES, 3.0)
    said += [Prompt("coach.py help (paused)", a.text) for a in coach.heard(Command.HELP, 4.0) if isinstance(a, Say)]
    coach.heard(Command.STOP, 5.0)  # back from the pause: "Would you like a short check-in together?"
    said += [Prompt("coach.py help (welcome)", a.text) for a in coach.heard(Command.HELP, 6.0) if isinstance(a, Say)]
    for path in sorted((PACKAGE / "checkin" / "builtin").glob("*.toml")):
        runner = ScriptRunner(load_script_file(path), ("Alex", "Sam"), CheckinSettings(), offer_later=True,
                              speech_wpm=float("inf"))
        runner.start(0.0)
        acts = runner.heard(Command.HELP, 1.0)
        runner.heard(Command.NOT_NOW, 2.0)
        assert runner.phase is Phase.LATER, path
        acts += runner.heard(Command.HELP, 3.0)
        said += [Prompt(f"checkin/builtin/{path.name} help", a.text) for a in acts if isinstance(a, Say)]
    return said


def catalogue() -> list[Prompt]:
    """Every prompt the product can say or print."""
    out = [Prompt(str(p.relative_to(PACKAGE)), t) for p in sorted(PACKAGE.rglob("*.py")) for t in _from_source(p)]
    scripts = sorted((PACKAGE / "checkin" / "builtin").glob("*.toml"))
    out += [Prompt(f"checkin/builtin/{p.name}", t) for p in scripts for t in _from_script(p)]
    out += [prompt for p in scripts for names in (("Alex", "Sam"), ("Partner A", "Partner B"))
            for prompt in _played(p, names)]
    out += _helps()
    out.append(Prompt("config.py PauseSettings.phrase", PauseSettings().phrase))
    clap = load_language("en").clap_wording  # each prompt as said while only the double clap is heard
    out += [Prompt(f"{where} (no speech model)", clap(t, choice)) for where, t, choice in out
            if clap(t, choice) != t]
    return out


def test_the_catalogue_reaches_every_kind_of_prompt():
    """The scan below is only as good as what it reads: each kind of prompt is in it."""
    texts = " | ".join(t for _, t, _ in catalogue())
    for expected in ("Shall we take the {length} minute pause", "Okay, not now.", "Is now a good time?",
                     "Welcome back.", "Shall I delete it?", "Sorry, something went wrong.", "Okay, moving on.",
                     "That's okay. Another time.", "your nightly check-in", "Who would like to begin?",
                     "please talk for about", "voicecoach can't start", "Just checking",
                     "{listener}, this is your time to listen",
                     "Is now a good time? Clap twice for yes, or stay quiet for not now.",
                     "Clap twice for okay, or stay quiet for not now.", "Who would like to begin? Say Alex or Sam.",
                     "Who would like to begin? Clap twice for Sam, or stay quiet for Alex.",
                     "Clap twice for now, or stay quiet for later."):
        assert expected in texts, expected
    assert len(catalogue()) > 100


def test_no_prompt_orders_a_partner_about_judges_one_or_takes_a_side():
    found = [f"{where}: {text!r} ({why})" for where, text, _ in catalogue() for pattern, why in JUDGING
             if re.search(pattern, text, re.IGNORECASE)]
    assert found == [], "\n".join(found)


def test_without_a_speech_model_no_prompt_asks_for_a_spoken_yes_next_or_pause():
    """Only the double clap is heard then: every invitation to say yes (or okay) becomes one to clap twice, and so
    does every "say next when you're done" (a clap in a turn is "next") and the check-in's "say pause" reminder
    (a clap just after it is the pause); "say pause at any time" is not said in a check-in, where it is not so."""
    for pack in sorted(BUILTIN_DIR.glob("*.toml")):  # the prompts are English whatever the commands' language
        worded, code = read_pack(pack).clap_wording, pack.stem
        spoken = [f"{where}: {worded(text, choice)!r}" for where, text, choice in catalogue()
                  if re.search(r"\bsay (yes|okay|next|pause)\b", worded(text, choice), re.IGNORECASE)]
        assert spoken == [], f"{code}: " + "\n".join(spoken)
    clap = load_language("en").clap_wording
    said = {text: clap(text, choice) for _, text, choice in catalogue()}
    assert said["Shall I delete it? Say yes to delete it, or not now to keep it."] == \
        "Shall I delete it? Clap twice for yes to delete it, or stay quiet to keep it."  # silence keeps the note
    confirm = "{speaker}, did {listener} get it? Say yes, or not now if something was missed."
    assert "quiet" not in said[confirm]  # silence there goes on as if it was right: not offered as "not now"
    assert said["Just a reminder: if either of you would like the pause you agreed on, say pause."] == \
        "Just a reminder: if either of you would like the pause you agreed on, clap twice."
    assert said["Okay, carry on gently. Either of you can say pause at any time. Thank you both."] == \
        "Okay, carry on gently. Either of you can clap twice for the pause at any time. Thank you both."


def test_without_a_speech_model_the_help_says_what_the_clap_does_not_words_nobody_can_say():
    """Before, the help (the h key) still said "You can also say repeat, more time, skip, pause, or stop." or "You
    can say: pause, ...; okay or not now, ...; and during the pause, more time, or stop." with only the double clap
    heard: it now says what the clap means there (a laptop prints its keys after it), in every pack shipped."""
    played = [p for p in catalogue() if " played " in p.where]  # a step's help, as the runner says it
    helps = {(p.text, p.choice) for p in _helps()} | {(p.text, p.choice) for p in played if REST_HELP in p.text
                                                      or p.text.startswith("Say next when you're done, or more")}
    assert len(helps) >= 11  # the coach's four, a consent's, a "later?"'s, and a step's of each kind
    for pack in sorted(BUILTIN_DIR.glob("*.toml")):
        worded, code = read_pack(pack).clap_wording, pack.stem
        said = {worded(text, choice) for text, choice in helps}
        spoken = sorted(s for s in said if re.search(r"\b(say|more time|repeat|skip|stop)\b", s, re.I))
        assert spoken == [], f"{code}: " + "\n".join(spoken)
        assert {"Clap twice for the pause you agreed on. When I ask, clap twice for okay, or stay quiet for not now.",
                "The pause is running. It ends on its own when the time is up.",
                "Clap twice for yes to begin, or stay quiet for not now.",
                "Clap twice for yes, and I'll ask again later, or stay quiet for not now.",
                "Clap twice when you're done.", "Clap twice for yes if that was right.",
                "Clap twice for yes, or stay quiet for not now.",
                "Clap twice to have a short check-in together about what came up, or stay quiet to carry on without "
                "it."} <= said, code


# a choice asked for by voice: "Say now or later.", "Say Alex or Sam.", "Say a, b or c."
SAY_ONE_OF = r"\bsay ([\w']+, )*[\w']+ or [\w']+[.?]"


def test_without_a_speech_model_no_choice_asks_for_a_spoken_option():
    """Before, "Would you like to go back to the topic now, or later? Say now or later." and "Who would like to
    begin? Say Alex or Sam." were said as written with no speech model: a choice now says what a clap picks and
    what silence leaves, generated from its own options (every built-in script played with one-word names and
    with two-word ones, its choices' re-prompts, help and repeat included), in every pack shipped."""
    prompts = catalogue()
    assert re.search(SAY_ONE_OF, "Would you like to go back to the topic now, or later? Say now or later.", re.I)
    choices = [p for p in prompts if p.choice is not None]
    assert len({p.where.split(" played")[0] for p in choices}) == 4  # after-pause, repair, stress, weekly
    for pack in sorted(BUILTIN_DIR.glob("*.toml")):
        worded, code = read_pack(pack).clap_wording, pack.stem
        asked = [f"{where}: {worded(text, choice)!r}" for where, text, choice in prompts
                 if re.search(SAY_ONE_OF, worded(text, choice), re.IGNORECASE)
                 or choice is not None and re.search(r"\bsay\b", worded(text, choice), re.IGNORECASE)]
        assert asked == [], f"{code}: " + "\n".join(asked)
        said = {worded(text, choice) for _, text, choice in choices}
        assert "Would you like to go back to the topic now, or later? Clap twice for now, or stay quiet for " \
               "later." in said, code
        assert "Who would like to begin? Clap twice for Partner B, or stay quiet for Partner A." in said, code


def test_the_scan_catches_the_phrasings_it_is_for():
    for bad in ("Calm down, both of you.", "Sam, you are shouting.", "{listener}, just listen.",
                "Stop interrupting.", "{listener}, say back what you heard.", "You need to breathe.",
                "Try not to explain it away.", "Just breathe.", "Start after the tone.",
                "{listener}, listen, take {speaker}'s side."):
        assert any(re.search(p, bad, re.IGNORECASE) for p, _ in JUDGING), bad
    for fine in ("Shall we take the 20 minute pause we agreed on? Say okay, or not now.",
                 "If either of you would like the pause you agreed on, say pause.",
                 "Say next when you're done, or more time, repeat, skip, pause, or stop."):
        assert not any(re.search(p, fine, re.IGNORECASE) for p, _ in JUDGING), fine
