"""The argon2id cost is the operator's to lower on a small machine, never below OWASP's
minimum; hashes made at another cost keep working and are remade at the next login."""

from __future__ import annotations

import pytest

from inescape.kernel.errors import ConfigurationError
from inescape.modules.auth.passwords import Passwords
from tests.support.auth import PASSWORD, login, make_user


@pytest.mark.parametrize(("memory_kib", "time_cost"), [(19_455, 2), (19_456, 1), (8_192, 4), (47_103, 1)])
def test_a_cost_below_the_owasp_minimum_is_refused_naming_the_setting(memory_kib, time_cost):
    with pytest.raises(ConfigurationError) as raised:
        Passwords(memory_kib=memory_kib, time_cost=time_cost)

    assert raised.value.setting == "INESCAPE_AUTH_PASSWORD_MEMORY_KIB"
    assert "INESCAPE_AUTH_PASSWORD_TIME_COST" in raised.value.problem


@pytest.mark.parametrize(("memory_kib", "time_cost"), [(19_456, 2), (47_104, 1)])
def test_a_hash_records_the_configured_cost_and_verifies(memory_kib, time_cost):
    hashing = Passwords(memory_kib=memory_kib, time_cost=time_cost)

    made = hashing.hash(PASSWORD)

    assert made.startswith("$argon2id$")
    assert f"m={memory_kib},t={time_cost}," in made
    assert hashing.verify(made, PASSWORD)
    assert not hashing.verify(made, PASSWORD + "!")
    assert not hashing.verify(None, PASSWORD)


def test_a_hash_made_at_the_default_cost_still_verifies_at_a_lower_one_and_is_due_for_remaking():
    default, lower = Passwords(), Passwords(memory_kib=19_456, time_cost=2)
    old = default.hash(PASSWORD)

    assert "m=65536,t=3," in old
    assert lower.verify(old, PASSWORD)
    assert lower.needs_rehash(old)
    assert not default.needs_rehash(old)


async def test_an_account_made_at_another_cost_logs_in_and_its_hash_is_remade_at_this_one(client):
    from sqlalchemy import select, update

    from inescape.modules.auth.models import users

    app = client.app
    user_id = await make_user(app, "dr.oldhash", ["clinician"])
    services = app.state.services
    async with services.uow() as uow:  # as if made before the operator lowered the cost
        await uow.session.execute(
            update(users).where(users.c.id == user_id).values(password_hash=Passwords().hash(PASSWORD))
        )

    tokens = await login(client, "dr.oldhash")

    assert tokens["access_token"]
    async with services.uow() as uow:
        remade = (
            await uow.session.execute(select(users.c.password_hash).where(users.c.id == user_id))
        ).scalar_one()
    assert "m=19456,t=2," in remade  # the suite runs at OWASP's minimum (tests/support/backends.py)
