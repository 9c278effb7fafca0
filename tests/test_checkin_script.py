"""Check-in script format: parsing, defaults, rounds, and one-line errors naming file, step and key."""

from __future__ import annotations

import textwrap

import pytest

from voicecoach.checkin.script import load_script_file, parse_script
from voicecoach.errors import InputError

HEAD = 'title = "Test"\nminutes = 5\n'


def script(body: str, head: str = HEAD):
    """Parse a script made of the standard head and ``body`` (named test.toml in messages)."""
    return parse_script(head + textwrap.dedent(body), "test.toml")


def error_of(body: str, head: str = HEAD) -> str:
    """The one-line error a broken script gives."""
    with pytest.raises(InputError) as info:
        script(body, head)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_minimal_script_gets_a_name_from_its_file_and_an_end_step() -> None:
    s = script('[[steps]]\ntype = "say"\ntext = "Hello."\n')
    assert s.name == "test"
    assert [st.type for st in s.steps] == ["say", "end"]
    assert s.consent.startswith("Hello {a} and {b}")
    assert not s.offer_on_schedule


def test_defaults_fill_in_turn_and_reflect_prompts() -> None:
    s = script('''
        [[steps]]
        type = "turn"
        for = "a"
        minutes = 2
        [[steps]]
        type = "reflect"
        for = "a"
    ''')
    turn, reflect = s.steps[0], s.steps[1]
    assert "{speaker}" in turn.text and turn.warn_at_min == (1.0,)
    assert reflect.minutes == 1.0 and "{listener}" in reflect.text and "{speaker}" in reflect.confirm


def test_long_turns_warn_at_five_minutes_and_one_minute_left() -> None:
    s = script('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = 15\n')
    assert s.steps[0].warn_at_min == (5.0, 1.0)


def test_consecutive_each_and_other_steps_form_a_round_played_twice() -> None:
    s = script('''
        [[steps]]
        type = "say"
        text = "Hi."
        [[steps]]
        type = "turn"
        for = "each"
        minutes = 1
        [[steps]]
        type = "turn"
        for = "other"
        minutes = 1
        [[steps]]
        type = "say"
        text = "Bye."
    ''')
    assert [(p.step, p.round, p.pass_no) for p in s.plan] == [
        (0, -1, 0), (1, 0, 0), (2, 0, 0), (1, 0, 1), (2, 0, 1), (3, -1, 0), (4, -1, 0)]


def test_named_durations_can_be_used_as_minutes_and_as_variables() -> None:
    s = script('''
        [durations]
        share = 3
        [[steps]]
        type = "turn"
        for = "each"
        minutes = "share"
        text = "{speaker}, you have {share}."
    ''')
    assert s.steps[0].minutes == 3.0


def test_choose_who_starts_gets_the_two_names_as_options() -> None:
    s = script('[[steps]]\ntype = "choose"\ntext = "Who starts?"\nsets = "first"\n')
    assert s.steps[0].options == ("{a}", "{b}")
    assert s.steps[0].default == "{a}"


def test_a_variable_set_by_a_choice_may_be_used_after_it() -> None:
    s = script('''
        [[steps]]
        type = "choose"
        text = "Now or later?"
        options = ["now", "later"]
        sets = "when"
        [[steps]]
        type = "say"
        text = "So, {when}."
    ''')
    assert s.steps[1].text == "So, {when}."


@pytest.mark.parametrize("body, expected", [
    ('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = -1\n',
     "test.toml: step 1 (turn): minutes = -1 is out of range (0.5 to 30)"),
    ('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = "long"\n',
     "test.toml: step 1 (turn): minutes = 'long' is not a duration name"),
    ('[[steps]]\ntype = "pause"\nseconds = 0\n', "test.toml: step 1 (pause): seconds = 0 is out of range (1 to 600)"),
    ('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = 2\nwarn_at = [3]\n',
     "test.toml: step 1 (turn): warn_at = 3 must be less than minutes (2)"),
    ('[[steps]]\ntype = "ask"\ntext = "Ok?"\nwait_s = true\n', "test.toml: step 1 (ask): wait_s must be a number"),
])
def test_bad_durations_name_the_file_the_step_and_the_key(body: str, expected: str) -> None:
    assert error_of(body).startswith(expected)


def test_an_unknown_step_type_lists_the_step_types() -> None:
    message = error_of('[[steps]]\ntype = "say"\ntext = "Hi."\n[[steps]]\ntype = "talk"\n')
    assert message.startswith("test.toml: step 2: type = 'talk' is not a step type (use one of: say, ask, turn")


def test_a_step_without_a_type_says_so() -> None:
    assert error_of('[[steps]]\ntext = "Hi."\n').startswith("test.toml: step 1: type is missing")


@pytest.mark.parametrize("body, expected", [
    ('[[steps]]\ntype = "say"\n', "test.toml: step 1 (say): text is missing"),
    ('[[steps]]\ntype = "turn"\nfor = "a"\n', "test.toml: step 1 (turn): minutes is missing"),
    ('[[steps]]\ntype = "reflect"\n', "test.toml: step 1 (reflect): for is missing"),
    ('[[steps]]\ntype = "choose"\ntext = "Which?"\n', "test.toml: step 1 (choose): options is missing"),
])
def test_missing_keys_are_named(body: str, expected: str) -> None:
    assert error_of(body).startswith(expected)


def test_a_script_without_steps_is_an_error() -> None:
    assert error_of("") == "test.toml: no steps (add at least one [[steps]] table with a type)"


def test_missing_title_and_minutes_are_errors() -> None:
    assert error_of('[[steps]]\ntype = "end"\n', head="minutes = 3\n").startswith("test.toml: title is missing")
    assert error_of('[[steps]]\ntype = "end"\n', head='title = "x"\n').startswith("test.toml: minutes is missing")


def test_bad_toml_is_one_line_naming_the_file() -> None:
    assert error_of('[[steps]\ntype = "say"\n').startswith("test.toml: invalid TOML:")


def test_unknown_variables_in_text_are_errors() -> None:
    message = error_of('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = 1\ntext = "{speeker}, go."\n')
    assert message.startswith("test.toml: step 1 (turn): text uses unknown variable {speeker} (known here:")
    assert "{speaker}" in message


def test_a_text_of_punctuation_only_is_an_error_not_a_silent_prompt() -> None:
    message = error_of('[[steps]]\ntype = "say"\ntext = "..."\n')
    assert message.startswith("test.toml: step 1 (say): text is '...', only punctuation")
    assert error_of('[[steps]]\ntype = "choose"\ntext = "?"\noptions = ["now", "later"]\n').endswith(
        "text is '?', only punctuation (write the words to be said)")


def test_speaker_is_unknown_in_a_step_for_both() -> None:
    message = error_of('[[steps]]\ntype = "say"\ntext = "{speaker}, hi."\n')
    assert "text uses unknown variable {speaker}" in message


def test_a_variable_used_before_it_is_chosen_is_an_error() -> None:
    message = error_of('''
        [[steps]]
        type = "say"
        text = "So, {when}."
        [[steps]]
        type = "choose"
        text = "Now or later?"
        options = ["now", "later"]
        sets = "when"
    ''')
    assert message.startswith("test.toml: step 1 (say): text uses unknown variable {when}")


def test_a_stray_brace_is_reported() -> None:
    assert "text has a stray brace" in error_of('[[steps]]\ntype = "say"\ntext = "Hi {a"\n')


def test_unknown_keys_are_errors_in_steps_and_metadata() -> None:
    assert error_of('[[steps]]\ntype = "say"\ntext = "Hi."\nminutes = 3\n').startswith(
        "test.toml: step 1 (say): unknown key 'minutes' (a say step takes: id, title, text, for)")
    assert error_of('[[steps]]\ntype = "end"\n', head=HEAD + "colour = 1\n").startswith(
        "test.toml: unknown key 'colour'")


def test_branch_targets_must_exist() -> None:
    message = error_of('[[steps]]\ntype = "ask"\ntext = "Ok?"\non_yes = "wrapup"\n')
    assert message.startswith("test.toml: step 1 (ask): on_yes = 'wrapup' is not a step id (use one of: next, skip,"
                              " end)")


def test_duplicate_ids_and_unreachable_steps_are_errors() -> None:
    assert "id = 'x' is already used by step 1" in error_of(
        '[[steps]]\ntype = "say"\nid = "x"\ntext = "a"\n[[steps]]\ntype = "say"\nid = "x"\ntext = "b"\n')
    assert error_of('[[steps]]\ntype = "end"\n[[steps]]\ntype = "say"\ntext = "Never."\n').startswith(
        "test.toml: step 2 (say): can never be reached")


def test_choose_checks_its_default_and_goto_against_the_options() -> None:
    assert "default = 'maybe' is not one of the options" in error_of(
        '[[steps]]\ntype = "choose"\ntext = "When?"\noptions = ["now", "later"]\ndefault = "maybe"\n')
    assert "goto.soon is not one of the options" in error_of(
        '[[steps]]\ntype = "choose"\ntext = "When?"\noptions = ["now", "later"]\ngoto = { soon = "next" }\n')
    assert "options must be" in error_of(
        '[[steps]]\ntype = "choose"\ntext = "Which?"\noptions = ["x", "y"]\nsets = "first"\n')


def test_a_bad_for_value_lists_the_choices() -> None:
    assert "for = 'both' is not allowed (use one of: a, b, first, second, each, other" in error_of(
        '[[steps]]\ntype = "turn"\nfor = "both"\nminutes = 1\n')


def test_files_are_named_by_their_name_and_missing_files_are_input_errors(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + '[[steps]]\ntype = "turn"\nfor = "a"\nminutes = 99\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"^mine.toml: step 1 \(turn\): minutes = 99 is out of range"):
        load_script_file(path)
    with pytest.raises(InputError, match="no such file"):
        load_script_file(tmp_path / "absent.toml")
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_script_file(path)


def test_a_script_saved_as_utf16_says_how_to_save_it(tmp_path):
    """Notepad's "Unicode" (UTF-16): it was "not a UTF-8 text file (is this a check-in script?)"."""
    path = tmp_path / "mine.toml"
    path.write_bytes((HEAD + '[[steps]]\ntype = "say"\ntext = "Hi."\n').encode("utf-16"))
    with pytest.raises(InputError) as err:
        load_script_file(path)
    assert str(err.value) == ('mine.toml: not a UTF-8 text file: it is saved as UTF-16 ("Unicode" in Windows '
                              'Notepad); save it again as UTF-8')
    path.write_bytes((HEAD + '[[steps]]\ntype = "say"\ntext = "Café?"\n').encode("latin-1"))
    with pytest.raises(InputError, match=r"\(is this a check-in script\? If it is, save it as UTF-8\)$"):
        load_script_file(path)


@pytest.mark.parametrize("file, expected", [
    ("my script.toml", "my script.toml: the file name 'my script' is not a usable script name (lowercase letters, "
                       "digits, - or _): rename the file to my-script.toml, or add name = \"my-script\""),
    ("Café.toml", "Café.toml: the file name 'Café' is not a usable script name (lowercase letters, digits, - or _): "
                  "rename the file to cafe.toml, or add name = \"cafe\""),
])
def test_a_file_name_that_is_no_script_name_is_blamed_on_the_file_not_on_a_name_key(file: str, expected: str) -> None:
    """With no ``name =`` in the file, the error said "name = 'my script' must be ..." about a key that is not
    there; it names the file name and a usable one."""
    with pytest.raises(InputError) as info:
        parse_script(HEAD + '[[steps]]\ntype = "say"\ntext = "Hi."\n', file)
    assert str(info.value) == expected


def test_a_name_key_that_is_no_script_name_suggests_one() -> None:
    message = error_of('[[steps]]\ntype = "say"\ntext = "Hi."\n', head='name = "Our Night"\n' + HEAD)
    assert message == ("test.toml: name = 'Our Night' must be a short lowercase name (letters, digits, - or _), "
                       "e.g. name = \"our-night\"")


@pytest.mark.parametrize("value, number", [('"5 min"', "5"), ('"1.5 minutes"', "1.5"), ('"5"', "5"),
                                           ('"0,5 min"', "0.5")])
def test_minutes_written_with_a_unit_or_in_quotes_says_to_write_the_number(value: str, number: str) -> None:
    """People write a timer as they say it; the error named [durations] (which they never meant) and no fix."""
    message = error_of(f'[[steps]]\ntype = "turn"\nfor = "a"\nminutes = {value}\n')
    assert message == (f"test.toml: step 1 (turn): minutes = {value.replace(chr(34), chr(39))} is not a number: "
                       f"write minutes = {number} (a plain number of minutes, no quotes or unit)")


@pytest.mark.parametrize("body, fix", [
    ('[[steps]]\ntype = "say"\n', 'add text = "..." with the words to say'),
    ('[[steps]]\ntype = "turn"\nfor = "a"\n', "add minutes = 2, how long the turn lasts"),
    ('[[steps]]\ntype = "reflect"\n', 'add for = "each" (or a, b, first, second, other): whose words are summed up'),
])
def test_a_missing_key_says_what_to_add(body: str, fix: str) -> None:
    """A step without its prompt or timer said only "text is missing": the line now gives the fix too."""
    assert error_of(body).endswith(f"is missing ({fix})")


@pytest.mark.parametrize("body, expected", [
    ('[[steps]]\ntype = "trun"\nminutes = 1\n',
     "test.toml: step 1: type = 'trun' is not a step type (use one of: say, ask, turn, reflect, choose, pause, "
     "end; did you mean \"turn\"?)"),
    ('[[steps]]\ntype = "turn"\nfor = "a"\nminuts = 1\n',
     "test.toml: step 1 (turn): unknown key 'minuts' (a turn step takes: id, title, text, for, minutes, warn_at, "
     "end_text; did you mean minutes?)"),
    ('[[steps]]\ntype = "turn"\nfor = "a"\nminutes = 1\ntext = "{speeker}, go on."\n',
     "test.toml: step 1 (turn): text uses unknown variable {speeker} (known here: {a}, {approx}, {b}, {duration}, "
     "{listener}, {minutes}, {speaker}, {title}; did you mean {speaker}?)"),
])
def test_a_misspelling_names_the_word_that_was_meant(body: str, expected: str) -> None:
    """A typo in a hand-written file: the line says which word was meant, besides listing the choices."""
    assert error_of(body) == expected
