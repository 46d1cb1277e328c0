"""A survey's own texts out to translators and back: `heard survey translations export|import`
as an author runs them, the files edited as a translator's tools do (openpyxl, Babel)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from openpyxl import load_workbook

from surveys import translations
from surveys.translations import TranslationError
from surveys.validation import SurveyError, load_survey
from tests.conftest import EXAMPLES, HERE
from tests.test_cli import heard

WATER = HERE / "data" / "water.yaml"
WG = EXAMPLES / "washington-group.yaml"


@pytest.fixture
def water(tmp_path: Path) -> Path:
    return Path(shutil.copy(WATER, tmp_path / "water.yaml"))


@pytest.fixture
def wg(tmp_path: Path) -> Path:
    return Path(shutil.copy(WG, tmp_path / "washington-group.yaml"))


def export(survey: Path, lang: str, suffix: str = "xlsx", source: str | None = None) -> Path:
    out = survey.with_name(f"{survey.stem}.{lang}.{suffix}")
    translations.export(survey, out, lang, source)
    return out


def import_(survey: Path, file: Path, lang: str | None = None,
            accept_stale: bool = False) -> translations.Imported:
    return translations.import_file(survey, file.read_bytes(), str(file), lang, accept_stale)


def sheet_rows(path: Path) -> dict[str, list]:
    """id → [source, translation, status] of an exported sheet."""
    sheet = load_workbook(path).worksheets[0]
    return {row[0]: list(row[1:]) for row in sheet.iter_rows(min_row=2, values_only=True)}


def edit_sheet(path: Path, translate) -> None:
    """Each translation cell set to translate(id, source, translation) (None: left as it is)."""
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        new = translate(row[0].value, row[1].value, row[2].value)
        if new is not None:
            row[2].value = new
    workbook.save(path)


def edit_po(path: Path, translate, keep_fuzzy: bool = True) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id:
            new = translate(message.context, message.id, message.string)
            if new is not None:
                message.string = new
            if not keep_fuzzy:
                message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog)


def french(_id: str, source: str, _translation: str) -> str:
    return f"FR {source}"  # placeholders and numbers kept


def test_xlsx_round_trip_adds_a_language_and_keeps_the_file_as_it_was(water):
    before = water.read_text()
    sheet = export(water, "fr")
    rows = sheet_rows(sheet)
    assert load_workbook(sheet).worksheets[0]["A1":"D1"][0][1].value == "source: en"
    assert rows["questions.source.text"] == ["Where do you get water?", None, "missing"]
    assert rows["questions.source.choices.tap"] == ["Tap at home", None, "missing"]
    assert rows["summary.source.tap"][0] == "{percent} of {count} have a tap"
    assert {"title", "intro", "consent", "closing", "summary.days"} <= set(rows)
    edit_sheet(sheet, french)

    imported = import_(water, sheet)
    assert (imported.lang, imported.written, imported.changed, imported.stale) == ("fr", 19, 19, [])
    survey = load_survey(water)
    assert survey.languages == ["en", "sw", "bn", "fr"]
    assert survey.question("source").choices[0].text["fr"] == "FR Tap at home"
    assert survey.summary[0].text["fr"] == "FR {percent} of {count} have a tap"
    after = water.read_text()
    assert after.startswith("# A small survey used by the engine tests: every question type once.")
    assert ("    text: {en: Where do you get water?, sw: Unapata maji wapi?, bn: আপনি কোথা থেকে "
            "পানি পান?, fr: FR Where do you get water?}") in after
    assert after.count("\n") == before.count("\n") + 1 + 1 + 19  # translated_from, fr, each id
    assert survey.translated_from["fr"]["questions.source.text"] == translations.source_hash(
        "Where do you get water?")
    assert sheet_rows(export(water, "fr"))["questions.days.text"][2] == "translated"


def test_po_round_trip_keeps_comments_anchors_and_blank_lines(wg):
    po = export(wg, "sw", "po")
    with po.open("rb") as handle:
        catalog = read_po(handle)
    message = catalog.get("How old are you? Reply with your age in years.",
                          context="questions.age.text")
    assert message is not None and message.string == "" and str(catalog.locale) == "sw"
    edit_po(po, lambda _id, source, _string: f"SW {source}")

    import_(wg, po)
    text = wg.read_text()
    assert text.startswith("# Disability survey using the Washington Group Short Set")
    assert "choices: &wg_scale" in text and text.count("choices: *wg_scale") == 5
    assert ('      sw: "SW {percent} of {count} people have a lot of difficulty walking or '
            'climbing steps."\n\n  - question: walking') in text
    survey = load_survey(wg)
    assert survey.languages[-1] == "sw"
    assert {question.choices[2].text["sw"] for question in survey.questions
            if question.choices and question.id != "sex"} == {"SW A lot of difficulty"}
    assert translations.coverage(survey)["sw"] == {"translated": 47, "stale": 0, "missing": 0}


def test_a_changed_source_makes_its_translations_stale_until_translated_again(water):
    sheet = export(water, "sw")
    edit_sheet(sheet, lambda *_: None)  # as it is: confirmed, now with what it was made from
    assert import_(water, sheet).changed == 0
    water.write_text(water.read_text().replace("{en: Where do you get water?",
                                               "{en: Where do you usually get water?"))
    survey = load_survey(water)
    assert translations.coverage(survey)["sw"] == {"translated": 18, "stale": 1, "missing": 0}
    assert translations.coverage(survey)["bn"]["stale"] == 0  # never recorded: taken as current
    result = heard("survey", "validate", str(water))
    assert "translations from en: sw 18 translated, 1 stale, 0 missing; bn 19 translated" in (
        result.stdout)

    rows = sheet_rows(export(water, "sw"))
    assert rows["questions.source.text"] == ["Where do you usually get water?",
                                             "Unapata maji wapi?", "stale"]
    po = export(water, "sw", "po")
    with po.open("rb") as handle:
        fuzzy = [message.context for message in read_po(handle) if message.fuzzy]
    assert fuzzy == ["questions.source.text"]

    edit_po(po, lambda *_: None)  # untouched and still fuzzy: still stale
    assert import_(water, po).stale == ["questions.source.text"]
    assert translations.coverage(load_survey(water))["sw"]["stale"] == 1

    edit_po(po, lambda ctx, _source, string: "Kwa kawaida unapata maji wapi?"
            if ctx == "questions.source.text" else None)
    assert import_(water, po).changed == 1
    survey = load_survey(water)
    assert survey.question("source").text["sw"] == "Kwa kawaida unapata maji wapi?"
    assert translations.coverage(survey)["sw"] == {"translated": 19, "stale": 0, "missing": 0}


def test_a_stale_translation_confirmed_unchanged_is_current_again(water):
    import_(water, export(water, "sw"))
    water.write_text(water.read_text().replace("{en: Thank you!", "{en: Thank you very much!"))
    po = export(water, "sw", "po")
    edit_po(po, lambda *_: None, keep_fuzzy=False)  # reviewed: the fuzzy flag taken off
    assert import_(water, po).stale == []
    assert translations.coverage(load_survey(water))["sw"]["stale"] == 0


def refused(survey: Path, file: Path, lang: str | None = None,
            accept_stale: bool = False) -> str:
    """The import's errors; the survey must be left exactly as it was."""
    before = survey.read_bytes()
    with pytest.raises(TranslationError) as error:
        import_(survey, file, lang, accept_stale)
    assert survey.read_bytes() == before
    return str(error.value)


def test_an_unknown_id_is_refused_by_row(water):
    sheet = export(water, "sw")
    workbook = load_workbook(sheet)
    workbook.worksheets[0].append(["questions.colour.text", "Colour?", "Rangi?", "translated"])
    workbook.save(sheet)
    assert (f"{sheet}: row 21 (questions.colour.text): unknown id 'questions.colour.text': no "
            "such text in this survey") in refused(water, sheet)


def test_a_source_changed_since_the_export_is_refused_unless_accepted_as_stale(water):
    sheet = export(water, "fr")
    edit_sheet(sheet, french)
    water.write_text(water.read_text().replace("{en: Almost done.", "{en: Nearly done."))
    err = refused(water, sheet)
    assert ("row 12 (questions.note1.text): the source text changed since this file was "
            "exported (was 'Almost done.', now 'Nearly done.'): export again, or import with "
            "--accept-stale") in err
    assert import_(water, sheet, accept_stale=True).stale == ["questions.note1.text"]
    survey = load_survey(water)
    assert survey.question("note1").text["fr"] == "FR Almost done."
    assert translations.coverage(survey)["fr"] == {"translated": 18, "stale": 1, "missing": 0}


@pytest.mark.parametrize(("target", "translation", "message"), [
    ("summary.source.tap", "{percent} ya watu wana bomba",
     "placeholders and numbers differ from the source: it has {count}, {percent}, the "
     "translation has {percent}"),
    ("summary.source.tap", "{asilimia} ya {count} wana bomba",
     "it has {count}, {percent}, the translation has {asilimia}, {count}"),
    ("intro", "Maswali 4 kuhusu maji.", "it has none, the translation has 4"),
    ("questions.days.text", "   ", "empty translation: every text of the survey needs one in sw"),
    ("questions.days.text", None, "empty translation"),
])
def test_translations_that_lose_what_the_source_has_are_refused(water, target, translation,
                                                                message):
    sheet = export(water, "sw")
    edit_sheet(sheet, lambda id_, *_: translation if id_ == target else None)
    if translation is None:
        workbook = load_workbook(sheet)
        for row in workbook.worksheets[0].iter_rows(min_row=2):
            if row[0].value == target:
                row[2].value = None
        workbook.save(sheet)
    err = refused(water, sheet)
    assert f"({target}): " in err and message in err


def test_numbers_in_other_digits_are_the_same_numbers(water):
    water.write_text(water.read_text().replace("{en: Five questions about water.",
                                               "{en: 5 questions about water."))
    sheet = export(water, "bn")
    edit_sheet(sheet, lambda id_, *_: "পানি নিয়ে ৫টি প্রশ্ন।" if id_ == "intro" else None)
    assert import_(water, sheet).changed == 1


def test_a_formula_cell_is_refused_and_exported_texts_are_defused(water):
    water.write_text(water.read_text().replace("{en: Tap at home,", "{en: '=Tap at home',"))
    sheet = export(water, "sw")
    cell = load_workbook(sheet).worksheets[0]["B7"]
    assert cell.value == "'=Tap at home" and cell.data_type == "s"
    edit_sheet(sheet, lambda id_, *_: "=A1" if id_ == "questions.source.text" else None)
    err = refused(water, sheet)
    assert ("row 6 (questions.source.text): the translation is a formula: type the text "
            "itself") in err
    assert "questions.source.choices.tap" not in err  # its defused source reads back as it was


def test_one_anchored_text_translated_two_ways_is_refused(wg):
    po = export(wg, "sw", "po")
    edit_po(po, lambda ctx, source, _string: "Ngumu sana" if ctx ==
            "questions.hearing.choices.a_lot" else f"SW {source}")
    err = refused(wg, po)
    assert ("(questions.hearing.choices.a_lot): the same text as line ") in err
    assert "(questions.seeing.choices.a_lot: one YAML anchor), translated differently" in err


def test_the_survey_must_stay_valid(water):
    sheet = export(water, "fr")
    workbook = load_workbook(sheet)
    sheet_ = workbook.worksheets[0]
    sheet_.delete_rows(2)  # no title in French: French cannot be added
    workbook.save(sheet)
    edit_sheet(sheet, french)
    err = refused(water, sheet)
    assert "the survey would not be valid with these translations:" in err
    assert f"{water}:5:8: title: missing translation for 'fr'" in err


def test_files_for_another_language_or_of_another_kind_are_refused(water, tmp_path):
    sheet = export(water, "sw")
    assert "the file holds translations into 'sw', not 'bn'" in refused(water, sheet, "bn")
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert "not a readable XLSX file" in refused(water, junk)
    plain = tmp_path / "notes.xlsx"
    workbook = load_workbook(sheet)
    workbook.worksheets[0]["C1"] = "Swahili"
    workbook.save(plain)
    assert "row 1 must name the columns id, source: <language>, translation: <language>" in (
        refused(water, plain))
    result = heard("survey", "translations", "export", str(water), "--lang", "en", "--out",
                   str(tmp_path / "en.xlsx"))
    assert result.returncode == 1 and "'en' is the source language" in result.stderr
    result = heard("survey", "translations", "export", str(water), "--lang", "sw", "--from",
                   "fr", "--out", str(tmp_path / "x.po"))
    assert "source language 'fr' is not one of the survey's languages (en, sw, bn)" in (
        result.stderr)


def test_translating_from_another_language_than_the_first(water):
    po = export(water, "fr", "po", source="sw")
    with po.open("rb") as handle:
        catalog = read_po(handle)
    assert catalog.get("Maji", context="title") is not None
    edit_po(po, lambda _ctx, source, _string: f"FR {source}")
    import_(water, po)
    survey = load_survey(water)
    assert survey.title["fr"] == "FR Maji"
    assert translations.coverage(survey)["fr"]["translated"] == 19


def test_translated_from_is_checked_and_leaves_existing_hashes_alone(water):
    for path in [*EXAMPLES.glob("*.yaml"), WATER]:
        survey = load_survey(path)
        assert "translated_from" not in survey.model_dump(mode="json") or (
            survey.translated_from == {})
    assert load_survey(EXAMPLES / "water-access.yaml").content_hash == (
        "df6769b4bdac2652d2850c17276da2346f4efb072fc208d8479d1b2bdcfe067b")
    before = load_survey(water).content_hash
    water.write_text(water.read_text() + "translated_from: {sw: {title: '0123456789ab'}}\n")
    assert load_survey(water).content_hash != before
    water.write_text(water.read_text().replace("{sw: {title: '0123456789ab'}}",
                                               "{fr: {title: 'abc'}}"))
    with pytest.raises(SurveyError) as error:
        load_survey(water)
    assert "translated_from: language 'fr' is not in the survey's languages" in str(error.value)
    assert "translated_from.fr.title: String should match pattern" in str(error.value)


def test_texts_have_stable_ids_for_every_text_field():
    tree = load_survey(WG).model_dump(mode="json")
    ids = [text.id for text in translations.survey_texts(tree)]
    assert len(ids) == len(set(ids)) == 47
    assert ids[:5] == ["title", "intro", "closing", "consent", "questions.age.text"]
    assert "questions.sex.choices.prefer_not_to_say" in ids and "summary.walking.cannot" in ids
    tree["summary"].append(dict(tree["summary"][-1]))
    assert translations.survey_texts(tree)[-1].id == "summary.walking.cannot#2"


def test_an_empty_file_writes_nothing(water):
    po = io.BytesIO()
    from babel.messages.catalog import Catalog

    write_po(po, Catalog(locale="sw"))
    with pytest.raises(TranslationError, match="no translations in it"):
        translations.import_file(water, po.getvalue(), "empty.po")


def test_the_commands_as_an_author_runs_them(water):
    out = water.with_name("sw.po")
    result = heard("survey", "translations", "export", str(water), "--lang", "SW", "--out",
                   str(out))  # as people spell it
    assert result.returncode == 0, result.stderr
    assert f"{out}: 19 texts of {water} for sw (0 missing, 19 translated, 0 stale)" in (
        result.stdout)
    edit_po(out, lambda ctx, _source, string: "Maji tu" if ctx == "title" else None)
    result = heard("survey", "translations", "import", str(water), str(out))
    assert result.returncode == 0, result.stderr
    assert f"{water}: 19 sw translations imported, 1 changed" in result.stdout
    assert load_survey(water).title["sw"] == "Maji tu"
    edit_po(out, lambda ctx, _source, string: "" if ctx == "title" else None)
    result = heard("survey", "translations", "import", str(water), str(out), "--lang", "sw")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "(title): empty translation" in result.stderr
