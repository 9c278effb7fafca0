"""What the README's "Quick start" and "Using it" and docs/kiosk.md tell a new user to type or say, checked
against the code: every ``voicecoach``/``scripts/run`` command parses and each flag it shows is in that
subcommand's ``--help``; every subcommand is shown somewhere; every config TOML and ``[table] key`` loads with no
retired-key warning; every spoken phrase shown is in the English grammar and every command of the grammar is
shown; the keyboard keys, the step types, the example ``pause_suggested`` reason and ``scripts/install-kiosk``'s
options are the code's. Drift found by hand before (all caught here now): ``kiosk --pretend-time`` missing from
``kiosk --help``, "leave a note" / "play my notes" and the keys ``l`` / ``v`` never shown, a reason the default
settings cannot give, install-kiosk's ``--help`` printing two lines of its code and its ``--no-setup`` missing.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from voicecoach import cli
from voicecoach.asr.lang import BUILTIN_DIR, normalize, read_pack
from voicecoach.checkin.script import STEP_TYPES, parse_script
from voicecoach.commands import Command
from voicecoach.config import Config, config_from_dict, default_config_text
from voicecoach.config_retired import RETIRED, upgrade
from voicecoach.detect.escalation import EscalationPolicy
from voicecoach.detect.settings import EscalationSettings
from voicecoach.events import Interruption
from voicecoach.settings import tomllib  # tomli on Python 3.10
from voicecoach.ui import KEYS

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
KIOSK = (REPO / "docs" / "kiosk.md").read_text(encoding="utf-8")
# what a new user reads first: the introduction, "Quick start" and "Using it" (not the measurements and tables)
USING = README.split("## How it works")[0]
DOCS = {"README.md": USING, "docs/kiosk.md": KIOSK}
ENGLISH = read_pack(BUILTIN_DIR / "en.toml")


def _code_lines(text: str) -> list[str]:
    """The lines of the text's code: indented blocks, and fenced blocks of a shell or of no language; a line
    ending in a backslash joined to the next."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if (fence is not None and fence in ("", "sh")) or (fence is None and line.startswith("    ")):
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            else:
                lines.append(line.strip())
    return lines


def _program_args(line: str) -> tuple[str, list[str]] | None:
    """(program, its arguments) of a shell line run as shown (``sudo -u U env A=B prog ...``); None for a line
    that runs nothing of ours (output, another program)."""
    first = line.split(maxsplit=1)[0] if line.split() else ""
    if not (first in ("sudo", "env", "scripts/run") or first.endswith("voicecoach") or first.endswith("install-kiosk")):
        return None
    words = shlex.split(line, comments=True)
    i = 0
    while i < len(words) and (words[i] in ("sudo", "env") or "=" in words[i] or words[i] == "-u"):
        i += 2 if words[i] == "-u" else 1
    if i >= len(words):
        return None
    program, rest = words[i], words[i + 1:]
    for j, word in enumerate(rest):  # the command ends at a redirection, a pipe or the next command
        if word in (">", ">>", "|", "&&", ";", "2>&1") or word.startswith(">"):
            rest = rest[:j]
            break
    return program, rest


def _shown_commands(program_matches) -> list[tuple[str, list[str], bool]]:  # noqa: ANN001 - a name predicate
    """Every command of ``program_matches`` in the docs: (where, its arguments, whether it is inline code, which
    may name a command without the arguments it needs). Not ``scripts/run ARGS``: a placeholder for any command."""
    found = []
    for name, text in DOCS.items():
        inline = [m.group(1) for m in re.finditer(r"`((?:scripts/run|voicecoach|(?:scripts/)?install-kiosk)\b[^`]*)`",
                                                  text)]
        code = _code_lines(text)
        for line in code + inline:
            parsed = _program_args(line)
            if parsed is not None and program_matches(parsed[0]) and not (parsed[1] and parsed[1][0].isupper()):
                found.append((f"{name}: {line}", parsed[1], line not in code))
    return found


def _voicecoach_args() -> list[tuple[str, list[str], bool]]:
    """The ``voicecoach`` argument lists the docs show (``scripts/run`` alone is ``listen``)."""
    shown = _shown_commands(lambda p: p == "scripts/run" or p == "voicecoach" or p.endswith("/voicecoach"))
    return [(where, args or (["listen"] if where.split(": ", 1)[1].startswith("scripts/run") else []), inline)
            for where, args, inline in shown]


def _subparser(parser: argparse.ArgumentParser, args: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser of the deepest subcommand ``args`` name; a name that is none fails the test."""
    for word in args:
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not found or word.startswith("-"):
            break
        assert word in found[0].choices, f"{word!r} is no command of {parser.prog}"
        parser = found[0].choices[word]
    return parser


def test_every_command_the_docs_show_parses_and_its_flags_are_in_its_help() -> None:
    """A command in a code block parses; a flag the docs show is listed by its subcommand's --help
    (``kiosk --pretend-time`` was hidden from it). Inline code may name a command without its arguments."""
    shown = _voicecoach_args()
    assert len(shown) > 25, shown
    parser = cli.build_parser()
    for where, args, inline in shown:
        if not inline:
            try:
                parsed, extra = parser.parse_known_args(cli.join_minus_values(args))
            except SystemExit:
                pytest.fail(f"{where}: the parser refuses {args}")
            assert not extra and getattr(parsed, "func", None), f"{where}: {args} does not parse ({extra})"
        helped = _subparser(parser, args).format_help()
        for flag in (a.split("=")[0] for a in args if a.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helped), f"{where}: {flag} not in its --help"


def test_every_subcommand_is_shown_in_the_docs() -> None:
    shown = {args[0] for _, args, _ in _voicecoach_args() if args}
    subparsers = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) - shown == set()


def test_the_help_calls_no_command_the_default_as_voicecoach_alone_runs_none() -> None:
    """``voicecoach`` with no command prints its help (exit 2); its listing called listen "(default)"."""
    assert cli.main([]) == 2
    listing = cli.build_parser().format_help()
    assert not re.search(r"^\s+listen\s.*\(default\)", listing, re.M)


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def test_every_config_example_loads_with_no_retired_key() -> None:
    configs = scripts = 0
    for name, text in DOCS.items():
        for block in _toml_blocks(text):
            data = tomllib.loads(block)
            if "steps" in data:  # a check-in script (README's morning.toml)
                parse_script(block, "morning.toml")
                scripts += 1
                continue
            assert upgrade(data, name)[1] == [], block
            config_from_dict(data, name)
            configs += 1
    assert configs >= 4 and scripts == 1


def _setting_exists(dotted: str) -> bool:
    node: object = Config()
    for part in dotted.split("."):
        if not hasattr(node, part):
            return False
        node = getattr(node, part)
    return True


def test_every_setting_the_docs_name_is_a_setting() -> None:
    """``[table] key = value`` loads; ``[table] key``, ``[table]`` and ``table.key`` are settings, not retired ones;
    and the bare keys of README's Configuration section are keys of some table."""
    sections = {f.name for f in Config.__dataclass_fields__.values()}
    named = 0
    for name, text in DOCS.items():
        for table, key, value in re.findall(r"`\[([a-z_.]+)\](?: ([a-z_]+))?(?: = ([^`]+))?`", text):
            dotted = f"{table}.{key}" if key else table
            assert _setting_exists(dotted) and dotted not in RETIRED, f"{name}: [{table}] {key}"
            if value:
                doc = tomllib.loads(f"[{table}]\n{key} = {value}\n")
                assert upgrade(doc, name)[1] == []
                config_from_dict(doc, name)
            named += 1
        for dotted in re.findall(rf"`((?:{'|'.join(sections)})(?:\.[a-z_]+)+)`", text):
            assert _setting_exists(dotted) and dotted not in RETIRED, f"{name}: {dotted}"
            named += 1
    all_keys = set(re.findall(r"^#? ?([a-z_]+) = ", default_config_text(), re.M))
    configuration = USING.split("### Configuration")[1].split("### ")[0]
    for key in re.findall(r"`([a-z]+(?:_[a-z]+)+)`", configuration):
        assert key in all_keys, f"README Configuration: {key} is no setting"
    assert named > 20


def _emphasised_phrases(text: str) -> list[str]:
    """Spoken phrases shown as *"x"* or **"x"** (a prompt the product says ends in . or ?: not a command)."""
    return [p for p in re.findall(r'(?<!\*)\*{1,2}"([^"*]+)"\*{1,2}', text) if not p.rstrip().endswith((".", "?"))]


def _documented_phrases() -> list[str]:
    phrases = [p for text in DOCS.values() for p in _emphasised_phrases(text)]
    intro = re.search(r"answered with your voice \(([^)]*)\)", README)
    checkin = re.search(r"Say (\*\*.*?) at any step", README, re.S)
    assert intro and checkin
    phrases += re.findall(r'"([^"]+)"', intro.group(1)) + re.findall(r"\*\*([^*]+)\*\*", checkin.group(1))
    return phrases


def test_every_spoken_phrase_shown_is_in_the_grammar_and_every_command_is_shown() -> None:
    said: dict[tuple[str, ...], Command] = {}
    for command, phrases in ENGLISH.commands.items():
        for phrase in phrases:
            said[normalize(phrase)] = command
    shown = _documented_phrases()
    unknown = [p for p in shown if normalize(p) not in said]
    assert unknown == [], f"the docs tell users to say what the grammar does not have: {unknown}"
    never = set(Command) - {said[normalize(p)] for p in shown}
    assert never == set(), f"the grammar has commands the docs never tell users to say: {never}"


def test_the_keys_the_readme_lists_are_the_keyboards() -> None:
    pairs = re.findall(r"`(\S)` ([a-z ]+?)[,.]", README.split("answers also come from the keyboard:")[1][:400])
    assert len(pairs) >= 9
    for key, label in pairs:
        assert key in KEYS and normalize(label) in {normalize(p) for p in ENGLISH.commands[KEYS[key]]} | {
            normalize(KEYS[key].spoken)}, f"`{key}` {label}"
    documented = {KEYS[key] for key, _ in pairs}
    assert set(KEYS.values()) - documented == set()


def test_the_step_types_the_readme_lists_are_the_scripts() -> None:
    listed = re.search(r"All step types \(([^)]*)\)", README)
    assert listed and tuple(re.findall(r"`(\w+)`", listed.group(1))) == STEP_TYPES


def test_the_analyze_example_reason_is_one_the_default_settings_give() -> None:
    """README showed "3 interruptions in 60 s"; four within 50 s make it by default."""
    example = re.search(r'\{"type": "pause_suggested", "t": ([\d.]+), "reason": "([^"]+)"\}', README)
    assert example
    policy = EscalationPolicy(EscalationSettings())
    t_end = float(example.group(1))
    said = []
    for t in (t_end - 30.0, t_end - 20.0, t_end - 10.0, t_end):
        said += policy.process(t, [Interruption(t=t, start=t - 0.5, speaker="B", over="A")], raised_now=False)
    assert [s.reason for s in said] == [example.group(2)]


def _install_kiosk_options() -> set[str]:
    script = (REPO / "scripts" / "install-kiosk").read_text()
    return set(re.findall(r"^\s+(--[a-z-]+)\)", script, re.M))


def test_install_kiosk_help_the_docs_table_and_the_script_agree() -> None:
    """Its --help printed two lines of its own code after the options; docs/kiosk.md's table lacked --no-setup."""
    done = subprocess.run([str(REPO / "scripts" / "install-kiosk"), "--help"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0
    helped = done.stdout
    assert "set -e" not in helped and "$(" not in helped
    accepted = _install_kiosk_options()
    assert {"--user", "--audio", "--root", "--uninstall", "--no-systemctl", "--no-setup"} <= accepted
    assert accepted == set(re.findall(r"(?<![\w-])(--[a-z-]+)", helped))
    table = set(re.findall(r"^\| `(--[a-z-]+)", KIOSK, re.M))
    assert table == accepted
    for where, args, _ in _shown_commands(lambda p: p.endswith("install-kiosk")):
        assert {a.split("=")[0] for a in args if a.startswith("--")} <= accepted, where


def test_every_check_kiosk_md_runs_checks_what_the_service_will_use() -> None:
    """The install steps ran ``.venv/bin/voicecoach check`` before ``/etc/voicecoach`` existed: it checked the
    user's own config and journal (and the devices as that user), not the service's. Each check docs/kiosk.md runs
    now reads the service's settings and data folders, with the service stopped (the Update and "Is it running?"
    steps ran it beside the service, whose microphone it then could not open), and the install steps check after
    ``install-kiosk``."""
    code = _code_lines(KIOSK)
    checks = [line for line in code if (parsed := _program_args(line)) is not None
              and parsed[0].endswith("voicecoach") and parsed[1][:1] == ["check"]]
    assert len(checks) >= 3, checks
    for line in checks:
        words = shlex.split(line, comments=True)
        service = {"VOICECOACH_CONFIG_DIR=/etc/voicecoach", "VOICECOACH_DATA_DIR=/var/lib/voicecoach"} <= set(words)
        assert service and words[:3] == ["sudo", "-u", "voicecoach"], f"docs/kiosk.md: {line}"
        assert "--kiosk" in words, f"docs/kiosk.md: {line} (without it a missing speaker is only a WARN)"
    for i, line in enumerate(code):  # with the service stopped: on a Pi's ALSA device it holds the microphone
        if line in checks:
            before = [x for x in code[:i] if "systemctl" in x or "install-kiosk" in x]
            after = [x for x in code[i + 1:] if "systemctl" in x]
            assert before and before[-1].startswith("sudo systemctl stop voicecoach"), f"docs/kiosk.md: {line}"
            assert after and after[0].startswith("sudo systemctl start voicecoach"), f"docs/kiosk.md: {line}"
    install = KIOSK.split("## Install", 1)[1].split("\n## ", 1)[0]
    steps = _code_lines(install)
    at = {kind: next(i for i, line in enumerate(steps) if kind in line) for kind in ("install-kiosk", " check")}
    assert at["install-kiosk"] < at[" check"], steps


def test_the_analyze_example_lines_have_exactly_the_keys_the_events_write() -> None:
    """Each JSON line README shows for ``analyze`` has the keys its event type writes, no more and no fewer: a key
    renamed or added in ``events.py`` (``level_db`` once) must show in the documented contract."""
    import json

    from voicecoach.events import PauseSuggested, RaisedVoice

    kinds = {cls.type: cls for cls in (RaisedVoice, Interruption, PauseSuggested)}
    shown = [json.loads(line) for line in _code_lines(README) if line.startswith('{"type": ')]
    assert {doc["type"] for doc in shown} == set(kinds)
    for doc in shown:
        written = kinds[doc["type"]](t=1.0).to_dict()
        assert list(doc) == list(written), doc["type"]
