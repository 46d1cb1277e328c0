"""The `heard` command as users run it: a real subprocess, stdin piped."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EXAMPLES, HERE


def heard(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "heard", *args], input=stdin, text=True,
                          capture_output=True, timeout=60)


def test_validate_examples_reports_languages_questions_and_segments():
    files = sorted(str(path) for path in EXAMPLES.glob("*.yaml"))
    assert len(files) >= 2
    result = heard("survey", "validate", *files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len([line for line in lines if " ok: languages " in line]) == len(files)
    assert "water-access v1 ok: languages en, sw, bn;" in result.stdout
    assert "bn 2 (UCS-2)" in result.stdout or "bn 1 (UCS-2)" in result.stdout


def test_validate_says_which_languages_a_call_can_say(monkeypatch):
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "en=en-US,sw=sw-KE")
    result = heard("survey", "validate", str(EXAMPLES / "water-access.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(
        "; by voice call: en, sw (no voice for bn in HEARD_VOICE_LANGUAGES, nor every prompt "
        "recorded)")


def test_validate_bad_file_exits_1_with_positions(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nlanguages: [en]\ntitle: {en: T}\nquestions:\n"
                   "  - {id: a, type: number, min: 5, max: 1, text: {en: N}}\n")
    result = heard("survey", "validate", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{bad}:5:32: question 'a': min 5 is greater than max 1"


def test_validate_warns_of_long_messages_and_strict_refuses_them(tmp_path):
    long = tmp_path / "long.yaml"
    question = "Please tell us " * 12 + "what you think?"  # 195 characters: 2 segments
    longer = "আপনি " * 40  # 200 characters of Bengali: UCS-2, 3 segments
    long.write_text("id: long\nlanguages: [en, bn, tum]\ntitle: {en: T, bn: T, tum: T}\n"
                    "questions:\n"
                    f"  - {{id: a, type: text, text: {{en: '{question}', bn: '{longer}', "
                    "tum: T}}\n", encoding="utf-8")
    relaxed = heard("survey", "validate", str(long))
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.stderr.strip() == (f"{long}: warning: question 'a' (bn) is 3 SMS segments "
                                      "(UCS-2, 200 characters); at most 2 keeps it cheap and "
                                      "readable")
    assert (f"{long}: tum: heard's own messages will be in en (no catalog for tum; "
            "system_language chooses another)") in relaxed.stdout
    strict = heard("survey", "validate", "--strict", str(long))
    assert strict.returncode == 1 and "error: question 'a' (bn)" in strict.stderr


def test_chat_reads_piped_answers_and_prints_answers_json():
    result = heard("chat", str(HERE / "data" / "water.yaml"), "--lang", "bn", "--print-answers",
                   stdin="২\n৫\n১ ৩\nহ্যাঁ\n1\n")
    assert result.returncode == 0, result.stderr
    assert "আপনি কোথা থেকে পানি পান?\n১ বাড়িতে কল\n২ নলকূপ\n৩ অন্যান্য" in result.stdout
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers == {"source": "well", "days": 5, "problems": ["dirty", "cost"], "safe": "yes"}


def test_chat_example_survey_end_to_end():
    result = heard("chat", str(EXAMPLES / "water-access.yaml"), "--print-answers",
                   stdin="1\n2\n1\nyes\n1 3\nskip\n")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["gender"] == "female" and answers["daily"] == "yes"
    assert answers["comment"] is None


def test_chat_rejects_unknown_language():
    result = heard("chat", str(EXAMPLES / "water-access.yaml"), "--lang", "xx")
    assert result.returncode == 2 and "en, sw, bn" in result.stderr


def test_contacts_import_keeps_declared_profile_columns_and_names_the_dropped_ones(
        runtime, tmp_path):
    """`runtime` puts the test database in the environment the subprocess inherits."""
    people = tmp_path / "people.csv"
    people.write_text("phone,name,gender,village\n+254712000001,Asha,female,Kisumu\n",
                      encoding="utf-8")
    result = heard("contacts", "import", str(people), "--region", "KE",
                   "--profile", "gender", "--profile", "village")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "1 rows read: 1 new contacts, 0 updated, 0 duplicate rows merged, 0 bad rows")
    assert result.stderr.strip() == (
        f"{people}: dropped columns not declared as profile fields: name (personal data is not "
        "kept; declare a column with --profile to keep it)")
    typo = heard("contacts", "import", str(people), "--profile", "gender,vilage")
    assert typo.returncode == 1
    assert f"{people}:line 1: declared profile column(s) not in the header: vilage" in (
        typo.stderr)


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "30s")
    monkeypatch.setenv("HEARD_SMS_PER_SECOND", "0")
    result = heard("serve")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "heard: HEARD_SWEEP_AFTER_SECONDS='30s': expected a whole number of seconds, e.g. 30; "
        "HEARD_SMS_PER_SECOND='0': expected messages a second, a number above 0, e.g. 1"]
