"""Who the patients are: age, dates of birth and diagnosis, and identifying details.

Names, streets, cities, phones and e-mail addresses come from pools built once per locale with
Faker's providers (seeded, so the pools are the same in every process) and are then sampled with
numpy: realistic-looking identifiers, so that PHI handling is exercised, at vectorised speed.
National ids and MRNs must be unique per patient, which a pool cannot give, so they are built
from the patient's random draws with the country's format and check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.joint import age_pmf
from inescape.modules.generation.engine.streams import Draws, Row, categorical, choose, choose_by
from inescape.modules.generation.profiles.model import Profile

_POOL_SEED = 20_240_101  # fixed: the pools are part of the generator, not of a cohort's seed
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Pools:
    female: pl.Series
    male: pl.Series
    family: pl.Series
    street: pl.Series
    city: pl.Series
    phone: pl.Series
    email: pl.Series


@lru_cache(maxsize=4)
def pools(locale: str) -> Pools:
    from faker import Faker  # imported here: only generation needs it

    fake = Faker(locale)
    fake.seed_instance(_POOL_SEED)

    def pool(make: object, size: int) -> pl.Series:
        return pl.Series([make() for _ in range(size)], dtype=pl.String)  # type: ignore[operator]

    return Pools(
        female=pool(fake.first_name_female, 600),
        male=pool(fake.first_name_male, 600),
        family=pool(fake.last_name, 1500),
        street=pool(fake.street_address, 2000),
        city=pool(fake.city, 500),
        phone=pool(fake.phone_number, 3000),
        email=pool(fake.free_email, 2000),
    )


def day_number(value: date) -> int:
    return (value - _EPOCH).days


def ages_and_dates(profile: Profile, row: Row, draws: Draws) -> dict[str, np.ndarray]:
    """Age at diagnosis (years, inside the row's age band), diagnosis and birth day numbers."""
    u, within = draws.uniform(), draws.uniform()
    age = np.zeros(len(u))
    for h in profile.histologies:
        for s in codes.SEXES:
            ages, pmf = age_pmf(profile.age[h][s])
            for name, keep in (("<75", ages < codes.AGE_BAND_EDGE), ("75+", ages >= codes.AGE_BAND_EDGE)):
                rows = row["histology"].is_(h) & row["sex"].is_(s) & row["age_band"].is_(name)
                if rows.any() and keep.any():
                    age[rows] = ages[keep][categorical(u[rows], pmf[keep])]
    age = age + within
    f = profile.follow_up
    diagnosed = draws.days(day_number(f.diagnosed_from), day_number(f.diagnosed_to))
    born = diagnosed - np.maximum(np.round(age * 365.25).astype(np.int64), 1)
    return {"age": age, "diagnosis_day": diagnosed, "birth_day": born}


def _pick(pool: pl.Series, u: np.ndarray) -> pl.Series:
    return pool.gather((u * len(pool)).astype(np.int64))


def _number(values: np.ndarray, width: int) -> pl.Expr:
    return pl.lit(pl.Series(values)).cast(pl.String).str.zfill(width)


def _national_ids(locale: str, draws: Draws) -> pl.Expr:
    """Iranian national code (9 digits and a mod-11 check digit), else a US SSN shape
    (area 001-899 except 666, group 01-99, serial 0001-9999)."""
    if locale == "fa_IR":
        body = draws.integers(10**9)
        digits = (body[:, None] // 10 ** np.arange(8, -1, -1)) % 10
        rest = (digits * (10 - np.arange(9))).sum(axis=1) % 11
        return _number(body * 10 + np.where(rest < 2, rest, 11 - rest), 10)
    area = 1 + draws.integers(898)
    area = area + (area >= 666)
    group, serial = 1 + draws.integers(99), 1 + draws.integers(9999)
    return pl.concat_str([_number(area, 3), _number(group, 2), _number(serial, 4)], separator="-")


def _place(profile: Profile, draws: Draws, size: int) -> tuple[pl.Series, pl.Series]:
    regions, countries = profile.identity.regions, profile.identity.countries
    region_u, country_u = draws.uniform(), draws.uniform()
    region = (
        choose(region_u, regions.shares).series("province")
        if regions
        else pl.repeat(None, size, dtype=pl.String, eager=True)
    )
    country = (
        choose(country_u, countries.shares).series("country")
        if countries
        else pl.repeat(profile.country, size, eager=True)
    )
    return region.alias("province"), country.alias("country")


def _drawn(profile: Profile, row: Row, draws: Draws) -> pl.DataFrame:
    """The pooled and drawn parts of each patient's identity, before they are put together."""
    p = pools(profile.locale)
    given_u, family_u, street_u, city_u = (draws.uniform() for _ in range(4))
    phone_u, email_u, has_phone, has_email = (draws.uniform() for _ in range(4))
    female = row["sex"].is_("female")
    given = np.where(female, given_u * len(p.female), len(p.female) + given_u * len(p.male)).astype(np.int64)
    province, country = _place(profile, draws, len(female))
    ethnicity = {h: m.shares for h, m in profile.identity.ethnicity.items()}
    return pl.DataFrame([
        pl.concat([p.female, p.male]).gather(given).alias("given_name"),
        _pick(p.family, family_u).alias("family_name"), _pick(p.street, street_u).alias("street"),
        _pick(p.city, city_u).alias("city"), province, country,
        _pick(p.phone, phone_u).alias("phone"), _pick(p.email, email_u).alias("email"),
        pl.Series("has_phone", has_phone < profile.identity.phone.value),
        pl.Series("has_email", has_email < profile.identity.email.value),
        choose_by(draws.uniform(), row["histology"], ethnicity).series("ethnicity"),
    ])  # fmt: skip


def identity(profile: Profile, row: Row, ids: pl.Series, draws: Draws) -> pl.DataFrame:
    """Names, contact details, MRN and national id, region and ethnicity, one row per patient."""
    frame = _drawn(profile, row, draws).with_columns(ids)
    upper = pl.col("id").str.to_uppercase()
    return frame.select(
        "id",
        "given_name",
        "family_name",
        mrn=pl.concat_str(pl.lit(profile.identity.mrn_prefix), upper.str.slice(0, 8), upper.str.slice(9, 4)),
        national_id=_national_ids(profile.locale, draws),
        ethnicity="ethnicity",
        country="country",
        province="province",
        address=pl.concat_str("street", "city", "province", separator=", ", ignore_nulls=True),
        phone=pl.when("has_phone").then("phone"),
        email=pl.when("has_email").then("email"),
    )
