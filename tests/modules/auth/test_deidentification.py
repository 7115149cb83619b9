"""De-identification (HIPAA Safe Harbor) of patient records for researchers and exports."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.modules.auth.api import AGE_OVER_89, DEFAULT_POLICY, RESTRICTED_ZIP3, DeidentificationInvalid
from inescape.modules.auth.deid import Deidentifier

SECRET = b"test-secret-0123456789abcdef"
AS_OF = date(2026, 1, 1)

# Clinical vocabulary; generated identifiers are kept out of it so a hit is a real leak.
HISTOLOGIES = ["Squamous cell carcinoma", "Adenocarcinoma", "Adenosquamous carcinoma"]
STAGES = ["I", "IIA", "IIB", "IIIA", "IIIB", "IVA", "IVB"]
TREATMENTS = ["esophagectomy", "chemoradiotherapy", "systemic therapy", "radiotherapy"]
INTENTS = ["curative", "palliative", "neoadjuvant"]
LOCATIONS = ["upper third", "middle third", "lower third", "gastroesophageal junction"]
LAB_CODES = ["718-7", "2345-7", "1751-7"]
VOCABULARY = json.dumps([HISTOLOGIES, STAGES, TREATMENTS, INTENTS, LOCATIONS, LAB_CODES, "IR", "Golestan"])

PERSIAN = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
LATIN_LOWER = "abcdefghijklmnopqrstuvwxyz"
LATIN_UPPER = LATIN_LOWER.upper()


def outside_vocabulary(text: str) -> bool:
    return text not in VOCABULARY and text.lower() not in VOCABULARY.lower()


latin_word = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(LATIN_UPPER),
    st.text(LATIN_LOWER + "éüö", min_size=1, max_size=9),
)
persian_word = st.text(PERSIAN, min_size=2, max_size=10)
# Capitalised Latin words never occur in lowercase hex or in ISO dates; Persian never does.
words = st.one_of(latin_word, persian_word).filter(outside_vocabulary)

mrns = st.from_regex(r"(MRN-|HOSP)\d{6,9}", fullmatch=True)
# Id-like, yet unable to contain any other identifier drawn here (checked when kept on purpose).
legacy_refs = st.from_regex(r"KH/[A-Z]{2}[0-9]{3}", fullmatch=True)
national_ids = st.from_regex(r"\d{10}", fullmatch=True)
phones = st.from_regex(r"\+98 9\d{2} \d{3} \d{4}|0\d{2}-\d{4}-\d{4}", fullmatch=True)
emails = st.builds(lambda user, host: f"{user}.{host}@example.org", latin_word, latin_word)
postal_codes = st.from_regex(r"\d{5}(-\d{4})?|\d{10}", fullmatch=True)
birth_dates = st.dates(date(1900, 1, 1), date(1990, 12, 31))
# Clinical events long after any birth date, so a shifted event never spells a birth date.
event_days = st.dates(date(2005, 1, 1), date(2025, 12, 31))
# Whole seconds: microsecond digits ("...00.000001") would spell short numeric identifiers.
event_times = st.datetimes(datetime(2005, 1, 1), datetime(2025, 12, 31)).map(
    lambda t: t.replace(microsecond=0)
)
when = st.one_of(
    event_days,
    event_times,
    event_days.map(date.isoformat),
    event_times.map(lambda t: t.isoformat(timespec="seconds")),
)


@st.composite
def patients(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A record shaped like the future patient model, and the identifier values put in it."""
    given_name, family_name, city, street = (draw(words) for _ in range(4))
    ids = {
        "name": [given_name, family_name, f"{given_name} {family_name}"],
        "mrn": [draw(mrns)],
        "national_id": [draw(national_ids)],
        "phone": [draw(phones)],
        "email": [draw(emails)],
        "address": [city, f"{draw(st.integers(1, 999))} {street}"],
        "postal_code": [draw(postal_codes)],
        "birth_date": [draw(birth_dates).isoformat()],
        "legacy": [draw(legacy_refs)],
    }
    flat_name = {"given_name": given_name, "family_name": family_name}
    fhir_name = {"name": {"given": [given_name], "family": family_name}}
    record = {
        "mrn": ids["mrn"][0],
        "national_id": ids["national_id"][0],
        **draw(st.sampled_from([flat_name, fhir_name])),
        "birthDate": draw(st.sampled_from([ids["birth_date"][0], date.fromisoformat(ids["birth_date"][0])])),
        "sex": draw(st.sampled_from(["male", "female"])),
        "country": "IR",
        "province": "Golestan",
        "address": {"line": [ids["address"][1]], "city": city, "postal_code": ids["postal_code"][0]},
        "phone": ids["phone"][0],
        "email": ids["email"][0],
        "legacy_reference": ids["legacy"][0],
        "notes": f"{given_name} {family_name}, MRN {ids['mrn'][0]}, call {ids['phone'][0]}",
        "conditions": draw(st.lists(conditions(), max_size=3)),
        "treatments": draw(st.lists(treatments(), max_size=3)),
        "observations": draw(st.lists(observations(), max_size=4)),
    }
    return record, ids


def conditions() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "diagnosis_date": when,
            "histology": st.sampled_from(HISTOLOGIES),
            "location": st.sampled_from(LOCATIONS),
            "stage_group": st.sampled_from(STAGES),
            "age_at_diagnosis": st.integers(18, 110),
        }
    )


def treatments() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "treatment_type": st.sampled_from(TREATMENTS),
            "intent": st.sampled_from(INTENTS),
            "start_date": when,
            "end_date": when,
        }
    )


def observations() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"date": when, "code": st.sampled_from(LAB_CODES), "value": st.integers(0, 500)}
    )


EVENT_DATES = [
    ("conditions", "diagnosis_date"),
    ("treatments", "start_date"),
    ("treatments", "end_date"),
    ("observations", "date"),
]


def dates_of(record: dict[str, Any]) -> list[Any]:
    return [event[field] for group, field in EVENT_DATES for event in record[group]]


def as_moment(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    return value


def shifter(mode: str = "shift") -> Deidentifier:
    return Deidentifier(SECRET, date_mode=mode)  # type: ignore[arg-type]


def leaks(out: dict[str, Any], ids: dict[str, list[str]]) -> list[str]:
    # The research id is hex from an HMAC, checked on its own; digits in it are chance.
    text = json.dumps({**out, "research_id": None}, ensure_ascii=False)
    return [value for values in ids.values() for value in values if len(value) >= 4 and value in text]


@settings(max_examples=200)
@given(patients(), st.sampled_from(["shift", "year"]))
def test_no_identifier_value_survives_anywhere_in_the_output(patient, mode):
    record, ids = patient

    out = shifter(mode).deidentify(record, patient_id=ids["mrn"][0], as_of=AS_OF)

    assert leaks(out, ids) == []


@given(patients())
def test_identifiers_go_by_their_kind_even_where_unknown_text_is_kept(patient):
    record, ids = patient
    lenient = msgspec.structs.replace(DEFAULT_POLICY, unknown_text="keep")

    out = Deidentifier(SECRET, policy=lenient).deidentify(record, patient_id="p", as_of=AS_OF)

    assert out["legacy_reference"] == ids.pop("legacy")[0]  # unknown, so kept as asked
    assert leaks(out, ids) == []


@settings(max_examples=200)
@given(patients())
def test_shifting_keeps_every_interval_between_a_patients_dates(patient):
    record, ids = patient

    out = shifter().deidentify(record, patient_id=ids["national_id"][0], as_of=AS_OF)

    before = [as_moment(v) for v in dates_of(record)]
    after = [as_moment(v) for v in dates_of(out)]
    assert len(after) == len(before)
    for i in range(len(before)):
        for j in range(len(before)):
            assert after[i] - after[j] == before[i] - before[j]
    assert all(a != b for a, b in zip(after, before, strict=True))


@given(patients())
def test_year_mode_keeps_only_the_year_of_each_date(patient):
    record, ids = patient

    out = shifter("year").deidentify(record, patient_id=ids["mrn"][0], as_of=AS_OF)

    assert dates_of(out) == [as_moment(v).year for v in dates_of(record)]


@given(patients(), st.text(min_size=1, max_size=30))
def test_a_patient_keeps_one_research_id_and_one_offset_across_calls(patient, patient_id):
    record, _ = patient
    day = date(2020, 2, 29)
    other = {"observations": [{"date": day, "code": "718-7", "value": 13}]}

    first = shifter().deidentify(record, patient_id=patient_id, as_of=AS_OF)
    second = shifter().deidentify(other, patient_id=patient_id, as_of=AS_OF)
    again = shifter().deidentify(other, patient_id=patient_id, as_of=AS_OF)

    assert first["research_id"] == second["research_id"] == again["research_id"]
    assert second == again
    offset = date.fromisoformat(second["observations"][0]["date"]) - day
    assert 1 <= abs(offset.days) <= 365
    for before, after in zip(dates_of(record), dates_of(first), strict=True):
        assert as_moment(after) - as_moment(before) == offset


def test_different_patients_get_different_research_ids_and_spread_out_offsets():
    day = date(2020, 1, 1)
    record = {"date": day}

    outs = [shifter().deidentify(record, patient_id=f"patient-{n}", as_of=AS_OF) for n in range(3000)]

    assert len({out["research_id"] for out in outs}) == 3000
    offsets = [(date.fromisoformat(out["date"]) - day).days for out in outs]
    assert all(1 <= abs(days) <= 365 for days in offsets)  # never 0: no date left as it was
    assert len(set(offsets)) > 600
    assert min(offsets) < -300
    assert max(offsets) > 300


def test_the_research_id_depends_on_the_secret_and_hides_the_patient_id():
    mine = Deidentifier(SECRET).research_id("MRN-1234567")
    theirs = Deidentifier(b"another-secret-of-enough-bytes").research_id("MRN-1234567")

    assert mine.startswith("R-")
    assert len(mine) == 18
    assert int(mine[2:], 16) >= 0  # hex
    assert mine != theirs
    assert "1234567" not in mine


@given(st.integers(0, 130))
def test_ages_over_89_are_grouped(age):
    record = {"age": age, "conditions": [{"age_at_diagnosis": age, "histology": "Adenocarcinoma"}]}

    out = shifter().deidentify(record, patient_id="p", as_of=AS_OF)

    expected = AGE_OVER_89 if age > 89 else age
    assert out["age"] == expected
    assert out["conditions"][0]["age_at_diagnosis"] == expected


@given(st.dates(date(1890, 1, 1), date(2020, 12, 31)))
def test_a_birth_date_becomes_its_year_or_the_90_plus_group(born):
    record = {"birth_date": born}

    out = shifter().deidentify(record, patient_id="p", as_of=AS_OF)

    age = AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))
    if age > 89:
        assert out == {"research_id": out["research_id"], "age_group": "90+"}
    else:
        assert out == {"research_id": out["research_id"], "birth_year": born.year}


def test_a_patient_turning_90_tomorrow_still_shows_a_birth_year():
    out = shifter().deidentify({"birth_date": "1936-01-02"}, patient_id="p", as_of=AS_OF)
    older = shifter().deidentify({"birth_date": "1936-01-01"}, patient_id="p", as_of=AS_OF)

    assert out["birth_year"] == 1936
    assert older["age_group"] == "90+"
    assert "birth_year" not in older


@given(postal_codes)
def test_postal_codes_keep_three_digits_unless_the_area_is_too_small(code):
    out = shifter().deidentify({"postal_code": code}, patient_id="p", as_of=AS_OF)

    zip3 = "".join(str(int(ch)) for ch in code if ch.isdecimal())[:3]  # any script's digits
    expected = "000" if zip3 in RESTRICTED_ZIP3 else zip3
    assert out["postal_code"] == expected


@pytest.mark.parametrize(("code", "expected"), [("03601", "000"), ("89301-1234", "000"), ("94110", "941")])
def test_sparsely_populated_zip3_areas_become_000(code, expected):
    out = shifter().deidentify({"address": {"zip": code}}, patient_id="p", as_of=AS_OF)

    assert out["address"] == {"zip": expected}


def test_the_restricted_zip3_list_is_hipaas_seventeen():
    assert len(RESTRICTED_ZIP3) == 17
    assert {"036", "059", "102", "893"} <= RESTRICTED_ZIP3


@given(patients(), st.sampled_from(["shift", "year"]))
def test_the_input_record_is_never_changed(patient, mode):
    record, ids = patient
    snapshot = copy.deepcopy(record)

    shifter(mode).deidentify(record, patient_id=ids["mrn"][0], as_of=AS_OF)

    assert record == snapshot


@given(patients(), st.sampled_from(["shift", "year"]))
def test_clinical_content_survives_unchanged(patient, mode):
    record, ids = patient

    out = shifter(mode).deidentify(record, patient_id=ids["mrn"][0], as_of=AS_OF)

    assert (out["sex"], out["country"], out["province"]) == (record["sex"], "IR", "Golestan")
    for group, fields in [
        ("conditions", ["histology", "location", "stage_group"]),
        ("treatments", ["treatment_type", "intent"]),
        ("observations", ["code", "value"]),
    ]:
        assert [{f: e[f] for f in fields} for e in out[group]] == [
            {f: e[f] for f in fields} for e in record[group]
        ]


@given(patients(), st.sampled_from(["shift", "year"]))
def test_the_output_is_plain_json(patient, mode):
    record, ids = patient

    out = shifter(mode).deidentify(record, patient_id=ids["mrn"][0], as_of=AS_OF)

    assert json.loads(json.dumps(out)) == out


ESOPHAGEAL_PATIENT: dict[str, Any] = {
    "id": "0192f0c4-7a1e-7c3d-9b2a-5e8f1d2c3b4a",
    "mrn": "MRN-00482913",
    "national_id": "2741856390",
    "given_name": "Zahra",
    "family_name": "Karimi",
    "birth_date": "1958-04-17",
    "sex": "female",
    "ethnicity": "Turkmen",
    "country": "IR",
    "province": "Golestan",
    "address": {"line": ["12 Shahid Beheshti St"], "city": "Gonbad-e Kavus", "postal_code": "4971613751"},
    "phone": "+98 911 234 5678",
    "email": "z.karimi@example.org",
    "smoking_status": "former",
    "conditions": [
        {
            "diagnosis_date": "2023-03-14",
            "histology": "Squamous cell carcinoma",
            "histology_code": "8070/3",
            "location": "middle third",
            "stage": {"cT": "cT3", "cN": "cN1", "cM": "cM0", "group": "III"},
            "notes": "Referred by Dr. Rahimi after dysphagia; husband Ali Karimi present.",
        }
    ],
    "treatments": [
        {
            "treatment_type": "chemoradiotherapy",
            "intent": "neoadjuvant",
            "regimen": "CROSS",
            "start_date": "2023-04-03",
            "end_date": "2023-05-12",
        },
        {
            "treatment_type": "esophagectomy",
            "intent": "curative",
            "start_date": "2023-06-20",
            "surgeon_name": "Dr. Mohammadi",
        },
    ],
    "observations": [{"date": "2023-03-10T08:30:00", "code": "718-7", "value": 11.2, "unit": "g/dL"}],
    "outcomes": [{"date": "2024-09-01", "vital_status": "alive", "recurrence": False}],
}


def test_a_realistic_patient_reduced_to_years_reads_like_this():
    out = shifter("year").deidentify(ESOPHAGEAL_PATIENT, patient_id=ESOPHAGEAL_PATIENT["id"], as_of=AS_OF)

    assert out == {
        "research_id": Deidentifier(SECRET).research_id(ESOPHAGEAL_PATIENT["id"]),
        "birth_year": 1958,
        "sex": "female",
        "ethnicity": "Turkmen",
        "country": "IR",
        "province": "Golestan",
        "address": {"postal_code": "497"},
        "smoking_status": "former",
        "conditions": [
            {
                "diagnosis_date": 2023,
                "histology": "Squamous cell carcinoma",
                "histology_code": "8070/3",
                "location": "middle third",
                "stage": {"cT": "cT3", "cN": "cN1", "cM": "cM0", "group": "III"},
            }
        ],
        "treatments": [
            {
                "treatment_type": "chemoradiotherapy",
                "intent": "neoadjuvant",
                "regimen": "CROSS",
                "start_date": 2023,
                "end_date": 2023,
            },
            {"treatment_type": "esophagectomy", "intent": "curative", "start_date": 2023},
        ],
        "observations": [{"date": 2023, "code": "718-7", "value": 11.2, "unit": "g/dL"}],
        "outcomes": [{"date": 2024, "vital_status": "alive", "recurrence": False}],
    }


def test_a_realistic_patient_with_shifted_dates_keeps_the_weeks_between_treatments():
    out = shifter().deidentify(ESOPHAGEAL_PATIENT, patient_id=ESOPHAGEAL_PATIENT["id"], as_of=AS_OF)

    diagnosed = date.fromisoformat(out["conditions"][0]["diagnosis_date"])
    surgery = date.fromisoformat(out["treatments"][1]["start_date"])
    assert diagnosed != date(2023, 3, 14)
    assert surgery - diagnosed == timedelta(days=98)
    assert (
        out["observations"][0]["date"]
        == (datetime(2023, 3, 10, 8, 30) + (diagnosed - date(2023, 3, 14))).isoformat()
    )


def test_an_export_gives_each_patients_rows_the_same_research_id_and_offset():
    rows = [
        {"patient_id": "A", "date": "2022-01-10", "code": "718-7", "value": 12},
        {"patient_id": "B", "date": "2022-01-10", "code": "718-7", "value": 9},
        {"patient_id": "A", "date": "2022-03-10", "code": "718-7", "value": 10},
    ]

    out = list(shifter().deidentify_many(rows, lambda row: row["patient_id"], as_of=AS_OF))

    assert [row.get("patient_id") for row in out] == [None, None, None]
    assert out[0]["research_id"] == out[2]["research_id"] != out[1]["research_id"]
    gap = date.fromisoformat(out[2]["date"]) - date.fromisoformat(out[0]["date"])
    assert gap == timedelta(days=59)
    assert [row["value"] for row in out] == [12, 9, 10]


def test_unknown_fields_keep_only_values_that_cannot_name_anyone():
    record = {
        "legacy_ref": "KH-99812",
        "referral_letter": "Dear colleague, Mrs Karimi ...",
        "tumor_length_cm": 4.5,
        "nodes_positive": 3,
        "card": 6037997512345678,
        "consented": True,
        "imported": "2021-05-05",
    }

    out = shifter("year").deidentify(record, patient_id="p", as_of=AS_OF)

    assert out == {
        "research_id": out["research_id"],
        "tumor_length_cm": 4.5,
        "nodes_positive": 3,
        "consented": True,
        "imported": 2021,
    }


def test_fhir_style_camel_case_keys_are_recognised():
    record = {
        "birthDate": "1950-06-01",
        "telecom": [{"system": "phone", "value": "+98 912 000 1111"}],
        "identifier": [{"system": "urn:ir:national-id", "value": "1234567890"}],
        "address": [{"postalCode": "12345", "state": "Tehran", "district": "Evin"}],
        "deceasedDateTime": "2024-02-02T10:00:00+03:30",
    }

    out = shifter("year").deidentify(record, patient_id="p", as_of=AS_OF)

    assert out == {
        "research_id": out["research_id"],
        "birth_year": 1950,
        "address": [{"postalCode": "123", "state": "Tehran"}],
        "deceasedDateTime": 2024,
    }


def test_timezone_aware_times_keep_their_zone_and_time_of_day():
    moment = datetime(2024, 2, 2, 10, 0, tzinfo=timezone(timedelta(hours=3, minutes=30)))

    out = shifter().deidentify({"recorded_at": moment}, patient_id="p", as_of=AS_OF)

    shifted = datetime.fromisoformat(out["recorded_at"])
    assert shifted.utcoffset() == moment.utcoffset()
    assert shifted.timetz() == moment.timetz()
    assert shifted != moment


def test_a_policy_can_keep_a_field_by_its_path_without_keeping_it_everywhere():
    policy = DEFAULT_POLICY.extended({"treatments.drug.name": "keep"})
    record = {"name": "Zahra Karimi", "treatments": [{"drug": {"name": "cisplatin", "dose": 75}}]}

    out = Deidentifier(SECRET, policy=policy).deidentify(record, patient_id="p", as_of=AS_OF)
    default = shifter().deidentify(record, patient_id="p", as_of=AS_OF)

    assert out == {
        "research_id": out["research_id"],
        "treatments": [{"drug": {"name": "cisplatin", "dose": 75}}],
    }
    assert default["treatments"] == [{"drug": {"dose": 75}}]


def test_a_research_id_in_the_input_never_overrides_the_real_one():
    trusting = DEFAULT_POLICY.extended({"research_id": "keep"})
    record = {"research_id": "R-forged", "sex": "male"}

    out = Deidentifier(SECRET, policy=trusting).deidentify(record, patient_id="p", as_of=AS_OF)

    assert out == {"research_id": Deidentifier(SECRET).research_id("p"), "sex": "male"}


def test_persian_digits_in_a_postal_code_are_read_as_digits():
    out = shifter().deidentify({"postal_code": "۴۹۷۱۶۱۳۷۵۱"}, patient_id="p", as_of=AS_OF)

    assert out["postal_code"] == "497"


@pytest.mark.parametrize("secret", [b"", b"short"])
def test_a_short_secret_is_refused(secret):
    with pytest.raises(DeidentificationInvalid, match="at least 16 bytes"):
        Deidentifier(secret)


def test_an_unknown_date_mode_is_refused():
    with pytest.raises(DeidentificationInvalid, match="date_mode"):
        Deidentifier(SECRET, date_mode="month")  # type: ignore[arg-type]


def test_a_record_without_a_patient_id_is_refused():
    with pytest.raises(DeidentificationInvalid, match="patient id"):
        shifter().deidentify({"sex": "male"}, patient_id="")
