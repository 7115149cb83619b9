"""Field encryption: tokens round-trip, refuse tampering and other columns, rotate keys, and
blind indexes find exact values only with the right HMAC key."""

from __future__ import annotations

import base64
import json
import os
import stat
import unicodedata

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from inescape.infra.crypto.cipher import FieldCipher, normalise
from inescape.infra.crypto.column import EncryptedString, set_field_cipher
from inescape.infra.crypto.encoding import b64e
from inescape.infra.crypto.errors import DecryptionFailed, FieldCipherMissing, UnknownKeyId
from inescape.infra.crypto.keyring import KeyRing, generate_key_file, load_keyring
from inescape.kernel.errors import ConfigurationError, Invalid

OLD = KeyRing({"k2025": b"\x01" * 32}, active_id="k2025", hmac_key=b"\x09" * 32)
NEW = KeyRing({"k2026a": b"\x02" * 32, "k2025": b"\x01" * 32}, active_id="k2026a", hmac_key=b"\x09" * 32)
MRN = "patients.mrn"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


PERSIAN = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF) | st.sampled_from(" \u200c")


@given(st.text() | st.text(alphabet=PERSIAN))
def test_any_text_round_trips(text):
    cipher = FieldCipher(NEW)

    assert cipher.decrypt(cipher.encrypt(text, context=MRN), context=MRN) == text


def test_a_persian_name_round_trips_and_never_appears_in_the_token():
    cipher = FieldCipher(NEW)
    name = "علی رضایی"

    token = cipher.encrypt(name, context="patients.name")

    assert token.startswith("v1:k2026a:")
    assert name not in token
    assert name.encode().hex() not in token
    assert cipher.decrypt(token, context="patients.name") == name


def test_the_same_value_encrypts_differently_each_time():
    cipher = FieldCipher(NEW)

    assert cipher.encrypt("MRN-1", context=MRN) != cipher.encrypt("MRN-1", context=MRN)


@given(st.data())
def test_changing_any_character_of_a_token_is_detected(data):
    cipher = FieldCipher(NEW)
    token = cipher.encrypt(data.draw(st.text(max_size=40)), context=MRN)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AaBbZz09-_:vk+/=").filter(lambda c: c != token[index]))
    altered = token[:index] + replacement + token[index + 1 :]

    with pytest.raises(DecryptionFailed):
        cipher.decrypt(altered, context=MRN)


@given(st.data())
def test_flipping_any_bit_of_the_ciphertext_is_detected(data):
    cipher = FieldCipher(NEW)
    token = cipher.encrypt(data.draw(st.text(max_size=40)), context=MRN)
    prefix, payload = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    altered = prefix + ":" + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()

    with pytest.raises(DecryptionFailed, match="failed authentication") as caught:
        cipher.decrypt(altered, context=MRN)
    assert isinstance(caught.value, Invalid)


def test_a_token_cut_short_or_not_a_token_is_refused():
    cipher = FieldCipher(NEW)
    token = cipher.encrypt("MRN-1", context=MRN)

    for bad in (token[:-4], "MRN-1", "v1:k2026a:", ""):
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(bad, context=MRN)


def test_a_token_moved_to_another_column_does_not_decrypt():
    cipher = FieldCipher(NEW)
    token = cipher.encrypt("1350-07-12", context="patients.birth_date")

    with pytest.raises(DecryptionFailed, match=r"patients\.phone"):
        cipher.decrypt(token, context="patients.phone")


def test_a_value_under_a_retired_key_still_decrypts_and_rotates_to_the_active_key():
    old_token = FieldCipher(OLD).encrypt("MRN-77", context=MRN)
    cipher = FieldCipher(NEW)

    assert cipher.key_id_of(old_token) == "k2025"
    assert cipher.needs_rotation(old_token)
    assert cipher.decrypt(old_token, context=MRN) == "MRN-77"
    moved = cipher.reencrypt(old_token, context=MRN)
    assert cipher.key_id_of(moved) == "k2026a"
    assert not cipher.needs_rotation(moved)
    assert cipher.reencrypt(moved, context=MRN) == moved
    assert cipher.decrypt(moved, context=MRN) == "MRN-77"


def test_a_value_under_a_key_missing_from_the_ring_names_the_key():
    token = FieldCipher(NEW).encrypt("x", context=MRN)

    with pytest.raises(UnknownKeyId, match="k2026a"):
        FieldCipher(OLD).decrypt(token, context=MRN)


def test_the_blind_index_is_stable_and_normalises_case_spacing_and_persian_digits():
    index = FieldCipher(NEW).blind_index("MRN-۱۲۳", context=MRN)

    assert index == FieldCipher(OLD).blind_index("  mrn-123 ", context=MRN)
    assert len(index) == 64
    assert int(index, 16) >= 0
    assert index != FieldCipher(NEW).blind_index("MRN-124", context=MRN)


def test_the_blind_index_depends_on_the_hmac_key_and_the_context():
    other = KeyRing({"k2026a": b"\x02" * 32}, active_id="k2026a", hmac_key=b"\x08" * 32)

    index = FieldCipher(NEW).blind_index("MRN-1", context=MRN)

    assert index != FieldCipher(other).blind_index("MRN-1", context=MRN)
    assert index != FieldCipher(NEW).blind_index("MRN-1", context="patients.national_id")


def test_keys_parse_from_the_setting_with_the_first_active():
    ring = KeyRing.parse(f"k2026a:{b64(b'a' * 32)}, k2025:{b64(b'b' * 32)}", hmac_key=b64(b"h" * 32))

    assert ring.active_id == "k2026a"
    assert ring.key_ids == ("k2026a", "k2025")
    assert ring.key("k2025") == b"b" * 32
    assert "YWFh" not in repr(ring)
    assert "k2026a" in repr(ring)


def test_an_explicit_active_key_id_is_used():
    ring = KeyRing.parse(
        f"k2026a:{b64(b'a' * 32)},k2025:{b64(b'b' * 32)}", hmac_key=b64(b"h" * 32), active_id="k2025"
    )

    assert ring.active_id == "k2025"


@pytest.mark.parametrize(
    ("keys", "hmac_key", "setting"),
    [
        ("k1:not base64!!", b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (f"k1:{b64(b'a' * 16)}", b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (b64(b"a" * 32), b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (f"bad id:{b64(b'a' * 32)}", b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (f"k1:{b64(b'a' * 32)},k1:{b64(b'b' * 32)}", b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (" , ", b64(b"h" * 32), "INESCAPE_ENCRYPTION_KEYS"),
        (f"k1:{b64(b'a' * 32)}", None, "INESCAPE_ENCRYPTION_HMAC_KEY"),
        (f"k1:{b64(b'a' * 32)}", b64(b"h" * 8), "INESCAPE_ENCRYPTION_HMAC_KEY"),
        (f"k1:{b64(b'a' * 32)}", b64(b"a" * 32), "INESCAPE_ENCRYPTION_HMAC_KEY"),
    ],
)
def test_bad_key_material_names_the_setting_to_fix(keys, hmac_key, setting):
    with pytest.raises(ConfigurationError) as caught:
        KeyRing.parse(keys, hmac_key=hmac_key)

    assert caught.value.setting == setting
    assert "YWFh" not in str(caught.value)


def test_an_active_key_id_not_among_the_keys_names_its_setting():
    with pytest.raises(ConfigurationError) as caught:
        KeyRing.parse(f"k1:{b64(b'a' * 32)}", hmac_key=b64(b"h" * 32), active_id="k9")

    assert caught.value.setting == "INESCAPE_ENCRYPTION_ACTIVE_KEY_ID"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"active": "k1"}),
        json.dumps({"active": "k1", "keys": {"k1": "!!"}, "hmac_key": b64(b"h" * 32)}),
        json.dumps({"active": "k2", "keys": {"k1": b64(b"a" * 32)}, "hmac_key": b64(b"h" * 32)}),
        json.dumps({"active": "k1", "keys": {"k1": b64(b"a" * 32)}}),
    ],
)
def test_a_bad_key_file_names_the_key_file_setting(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)

    with pytest.raises(ConfigurationError) as caught:
        KeyRing.from_file(path)

    assert caught.value.setting == "INESCAPE_ENCRYPTION_KEY_FILE"


def test_a_missing_key_file_names_the_key_file_setting(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_keyring(keys=None, key_file=str(tmp_path / "absent.json"), hmac_key=None)

    assert caught.value.setting == "INESCAPE_ENCRYPTION_KEY_FILE"


def test_without_keys_and_without_an_embedded_default_the_keys_setting_is_required():
    with pytest.raises(ConfigurationError) as caught:
        load_keyring(keys=None, key_file=None, hmac_key=None)

    assert caught.value.setting == "INESCAPE_ENCRYPTION_KEYS"


def test_a_generated_key_file_parses_back_into_a_working_ring(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(generate_key_file("k2026a"))

    ring = load_keyring(keys=None, key_file=str(path), hmac_key=None)

    assert ring.active_id == "k2026a"
    assert FieldCipher(ring).decrypt(FieldCipher(ring).encrypt("x", context=MRN), context=MRN) == "x"


def test_the_embedded_key_file_is_created_once_with_owner_only_permissions(tmp_path):
    path = tmp_path / "data" / "keys" / "encryption.json"

    first = KeyRing.load_or_create(path)
    second = KeyRing.load_or_create(path)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.key_ids == second.key_ids
    assert first.key(first.active_id) == second.key(second.active_id)
    assert [p.name for p in path.parent.iterdir()] == ["encryption.json"]


def test_a_new_key_becomes_active_and_the_old_one_stays_readable(tmp_path):
    path = tmp_path / "keys.json"
    ring = KeyRing.load_or_create(path)
    token = FieldCipher(ring).encrypt("MRN-5", context=MRN)

    ring.with_new_key("k2099").write(path)
    rotated = KeyRing.from_file(path)

    assert rotated.active_id == "k2099"
    assert FieldCipher(rotated).decrypt(token, context=MRN) == "MRN-5"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(ValueError, match="active"):
        rotated.without_key("k2099")


def test_an_encrypted_column_without_an_installed_cipher_says_what_to_do():
    previous = set_field_cipher(None)
    try:
        with pytest.raises(FieldCipherMissing, match="set_field_cipher"):
            EncryptedString("patients.mrn").process_bind_param("MRN-1", sa.create_engine("sqlite://").dialect)
    finally:
        set_field_cipher(previous)


def test_an_encrypted_column_refuses_sql_comparison_but_allows_null_checks():
    people = sa.Table("people", sa.MetaData(), sa.Column("mrn", EncryptedString("people.mrn")))

    with pytest.raises(TypeError, match="blind index"):
        _ = people.c.mrn == "MRN-1"
    assert "IS NULL" in str(people.c.mrn.is_(None))
    assert "IS NULL" in str(people.c.mrn == None)  # noqa: E711


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_ascii_values_normalise_exactly_as_the_full_unicode_path_does(value):
    full = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()

    assert normalise(value) == full


@given(st.binary(max_size=64))
def test_tokens_use_unpadded_url_safe_base64(data):
    assert b64e(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
