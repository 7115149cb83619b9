"""Cohort survival analytics, checked against the Freireich et al. (1963) 6-MP remission trial.

The data (Gehan 1965) are the worked example of Kleinbaum & Klein, *Survival Analysis*
(ch. 2) and of R's and lifelines' documentation: remission times in weeks, 21 children on
6-mercaptopurine and 21 on placebo.
"""

from __future__ import annotations

import math
import statistics
import xml.etree.ElementTree as ET
from statistics import NormalDist

import polars as pl
import pytest

from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics import (
    age_distribution,
    age_summary,
    chi2_sf,
    counts,
    histogram_svg,
    kaplan_meier,
    km_svg,
    log_rank,
    median_survival,
    number_at_risk,
)

SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_RELAPSED = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def remission() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "weeks": SIX_MP + PLACEBO,
            "relapse": SIX_MP_RELAPSED + [1] * len(PLACEBO),
            "arm": ["6-MP"] * len(SIX_MP) + ["placebo"] * len(PLACEBO),
        }
    )


def curve_of(km: pl.DataFrame, arm: str) -> pl.DataFrame:
    return km.filter(pl.col("arm") == arm)


def at(curve: pl.DataFrame, week: float) -> dict[str, float]:
    return curve.filter(pl.col("time") == week).row(0, named=True)


# --- Kaplan-Meier ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("week", "published"),
    [(6, 0.857), (7, 0.807), (10, 0.753), (13, 0.690), (16, 0.627), (22, 0.538), (23, 0.448)],
)
def test_kaplan_meier_reproduces_the_published_6mp_curve(remission, week, published):
    km = kaplan_meier(remission, time="weeks", event="relapse", group="arm")

    assert at(curve_of(km, "6-MP"), week)["survival"] == pytest.approx(published, abs=5e-4)


def test_kaplan_meier_counts_risk_sets_with_censoring_after_events(remission):
    km = kaplan_meier(remission, time="weeks", event="relapse", group="arm")

    table = curve_of(km, "6-MP").select("time", "n_at_risk", "n_events", "n_censored").rows()

    # Kleinbaum & Klein table 2.x: t(j), n(j), m(j), q(j); censored rows fold into their time.
    assert table[:6] == [
        (0, 21, 0, 0),
        (6, 21, 3, 1),
        (7, 17, 1, 0),
        (9, 16, 0, 1),
        (10, 15, 1, 1),
        (11, 13, 0, 1),
    ]
    assert table[-1] == (35, 1, 0, 1)


def test_kaplan_meier_starts_every_curve_at_one_at_time_zero(remission):
    km = kaplan_meier(remission, time="weeks", event="relapse", group="arm")

    starts = km.filter(pl.col("time") == 0).select("arm", "n_at_risk", "survival", "lower", "upper").rows()

    assert starts == [("6-MP", 21, 1.0, 1.0, 1.0), ("placebo", 21, 1.0, 1.0, 1.0)]


def test_greenwood_log_log_band_matches_the_formula_worked_by_hand(remission):
    # Expected values worked here from the formulas, not from the code under test:
    # Greenwood se(S) = S·sqrt(Σ d/(n(n-d))); band S^exp(±z·sqrt(Σ)/|log S|).
    # The se's are those R's summary(survfit) prints for this arm (0.0764, 0.0869, 0.1068,
    # 0.1346), and lifelines 0.30.3 gives the same bands to 6 decimals.
    risk_sets = {6: (21, 3), 7: (17, 1), 10: (15, 1), 13: (12, 1), 16: (11, 1), 22: (7, 1), 23: (6, 1)}
    published_se = {6: 0.0764, 7: 0.0869, 13: 0.1068, 23: 0.1346}
    published_band = {6: (0.620, 0.952), 13: (0.432, 0.849), 23: (0.188, 0.680)}
    z = NormalDist().inv_cdf(0.975)
    km = curve_of(kaplan_meier(remission, time="weeks", event="relapse", group="arm"), "6-MP")
    survival, greenwood = 1.0, 0.0
    for week, (n, d) in risk_sets.items():
        survival *= 1 - d / n
        greenwood += d / (n * (n - d))
        spread = math.exp(z * math.sqrt(greenwood) / abs(math.log(survival)))
        row = at(km, week)
        if week in published_se:
            assert survival * math.sqrt(greenwood) == pytest.approx(published_se[week], abs=5e-4)
        assert row["lower"] == pytest.approx(survival**spread, rel=1e-12)
        assert row["upper"] == pytest.approx(survival ** (1 / spread), rel=1e-12)
        if week in published_band:
            assert (row["lower"], row["upper"]) == pytest.approx(published_band[week], abs=5e-4)


def test_a_wider_confidence_gives_a_wider_band(remission):
    narrow = at(curve_of(kaplan_meier(remission, time="weeks", event="relapse", group="arm"), "6-MP"), 13)
    wide = at(
        curve_of(
            kaplan_meier(remission, time="weeks", event="relapse", group="arm", confidence=0.99), "6-MP"
        ),
        13,
    )

    assert wide["lower"] < narrow["lower"] < narrow["survival"] < narrow["upper"] < wide["upper"]


def test_a_curve_that_reaches_zero_has_a_band_closed_at_zero(remission):
    placebo = curve_of(kaplan_meier(remission, time="weeks", event="relapse", group="arm"), "placebo")

    last = placebo.row(-1, named=True)

    assert (last["time"], last["survival"], last["lower"], last["upper"]) == (23, 0.0, 0.0, 0.0)
    assert at(placebo, 8)["survival"] == pytest.approx(8 / 21)


def test_kaplan_meier_without_a_group_pools_everyone(remission):
    km = kaplan_meier(remission, time="weeks", event="relapse")

    assert km.columns == ["time", "n_at_risk", "n_events", "n_censored", "survival", "lower", "upper"]
    assert at(km, 1)["survival"] == pytest.approx(40 / 42)
    assert at(km, 6)["n_at_risk"] == 33


def test_events_come_before_censoring_at_a_tied_time():
    frame = pl.DataFrame({"time": [2, 2, 2, 3], "event": [1, 0, 1, 1]})

    row = at(kaplan_meier(frame), 2)

    # Were the censored one removed first, 3 would be at risk and S(2) would be 1/3.
    assert (row["n_at_risk"], row["n_events"], row["n_censored"]) == (4, 2, 1)
    assert row["survival"] == pytest.approx(0.5)


def test_a_group_with_only_censored_patients_stays_at_one():
    frame = pl.DataFrame(
        {"time": [3, 5, 8, 1, 2], "event": [0, 0, 0, 1, 1], "arm": ["a", "a", "a", "b", "b"]}
    )

    km = curve_of(kaplan_meier(frame, group="arm"), "a")
    medians = median_survival(frame, group="arm").rows(named=True)

    assert km["survival"].to_list() == [1.0, 1.0, 1.0, 1.0]
    assert km["lower"].to_list() == km["upper"].to_list() == [1.0, 1.0, 1.0, 1.0]
    assert (medians[0]["n_events"], medians[0]["median"]) == (0, None)
    assert medians[1]["median"] == 1.0


def test_a_single_death_gives_a_curve_from_one_to_zero():
    km = kaplan_meier(pl.DataFrame({"time": [5.0], "event": [1]}))

    assert km.select("time", "n_at_risk", "survival").rows() == [(0.0, 1, 1.0), (5.0, 1, 0.0)]


def test_a_single_censored_row_leaves_the_curve_at_one():
    km = kaplan_meier(pl.DataFrame({"time": [5.0], "event": [False]}))

    assert km.select("time", "n_censored", "survival").rows() == [(0.0, 0, 1.0), (5.0, 1, 1.0)]


def test_deaths_at_time_zero_take_the_starting_row():
    km = kaplan_meier(pl.DataFrame({"time": [0, 0, 4, 6], "event": [1, 0, 1, 0]}))

    assert km.select("time", "n_at_risk", "n_events", "survival").rows()[0] == (0.0, 4, 1, 0.75)


# --- number at risk and median ---------------------------------------------------------------


def test_number_at_risk_counts_those_followed_to_each_time(remission):
    table = number_at_risk(remission, times=[0, 6.5, 10, 20, 30], time="weeks", event="relapse", group="arm")

    assert table.rows() == [
        ("6-MP", 0.0, 21),
        ("6-MP", 6.5, 17),
        ("6-MP", 10.0, 15),
        ("6-MP", 20.0, 8),
        ("6-MP", 30.0, 4),
        ("placebo", 0.0, 21),
        ("placebo", 6.5, 12),
        ("placebo", 10.0, 8),
        ("placebo", 20.0, 2),
        ("placebo", 30.0, 0),
    ]


def test_number_at_risk_rejects_negative_times(remission):
    with pytest.raises(Invalid, match="times"):
        number_at_risk(remission, times=[-1], time="weeks", event="relapse")


def test_median_survival_matches_the_textbook(remission):
    medians = median_survival(remission, time="weeks", event="relapse", group="arm")

    # Medians as in Kleinbaum & Klein; the Brookmeyer-Crowley limits on the log(-log) band
    # are those of lifelines' median_survival_times (6-MP: 13 to not reached; placebo 4 to 11).
    assert medians.rows() == [("6-MP", 21, 9, 23.0, 13.0, None), ("placebo", 21, 21, 8.0, 4.0, 11.0)]


# --- log-rank --------------------------------------------------------------------------------


def test_log_rank_reproduces_the_published_chi_square(remission):
    result = log_rank(remission, time="weeks", event="relapse", group="arm")

    # Kleinbaum & Klein: O = 9 and 21, E = 19.25 and 10.75, log-rank 16.79, p < 0.0001.
    assert result.statistic == pytest.approx(16.79, abs=5e-3)
    assert result.df == 1
    assert result.p_value == pytest.approx(4.17e-5, rel=1e-3)
    assert [(g.group, g.n, g.observed) for g in result.groups] == [("6-MP", 21, 9), ("placebo", 21, 21)]
    assert [g.expected for g in result.groups] == pytest.approx([19.25, 10.75], abs=5e-3)


def test_log_rank_compares_three_groups():
    frame = pl.DataFrame(
        {
            "time": [3, 5, 7, 9, 12, 15, 18, 20, 2, 4, 4, 6, 8, 10, 11, 13, 5, 8, 12, 16, 22, 25, 30, 34],
            "event": [1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0],
            "stage": [1] * 8 + [2] * 8 + [3] * 8,
        }
    )

    result = log_rank(frame, group="stage")

    # Reference: lifelines 0.30.3 multivariate_logrank_test on the same rows.
    assert result.statistic == pytest.approx(10.380089708217842, rel=1e-9)
    assert result.df == 2
    assert result.p_value == pytest.approx(0.005571756893124462, rel=1e-9)
    assert [g.group for g in result.groups] == ["1", "2", "3"]
    assert sum(g.observed for g in result.groups) == pytest.approx(sum(g.expected for g in result.groups))


def test_log_rank_does_not_depend_on_which_group_is_named_first(remission):
    relabelled = remission.with_columns(pl.col("arm").replace({"6-MP": "z-drug", "placebo": "a-control"}))

    assert log_rank(relabelled, time="weeks", event="relapse", group="arm").statistic == pytest.approx(
        log_rank(remission, time="weeks", event="relapse", group="arm").statistic
    )


def test_log_rank_finds_nothing_between_identical_groups():
    frame = pl.DataFrame({"time": [1, 2, 3, 1, 2, 3], "event": [1, 0, 1, 1, 0, 1], "arm": list("aaabbb")})

    result = log_rank(frame, group="arm")

    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)


def test_log_rank_table_lists_each_group(remission):
    table = log_rank(remission, time="weeks", event="relapse", group="arm").table()

    assert table.columns == ["group", "n", "observed", "expected"]
    assert table["observed"].to_list() == [9, 21]


def test_log_rank_needs_two_groups(remission):
    one_arm = remission.filter(pl.col("arm") == "placebo")

    with pytest.raises(Invalid, match=r"'arm'.*at least 2 groups") as raised:
        log_rank(one_arm, time="weeks", event="relapse", group="arm")
    assert raised.value.errors[0]["field"] == "arm"


def test_log_rank_needs_at_least_one_event(remission):
    with pytest.raises(Invalid, match="relapse"):
        log_rank(remission.with_columns(relapse=pl.lit(0)), time="weeks", event="relapse", group="arm")


# --- chi-square tail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (6.634896601021214, 1, 0.01),
        (11.0704976935, 5, 0.05),
    ],
)
def test_chi2_sf_gives_the_table_critical_values(x, df, p):
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("x", [1e-6, 0.3, 1.0, 2.5, 7.0, 19.0, 60.0, 200.0])
def test_chi2_sf_matches_the_closed_forms(x):
    half = x / 2
    # Q(1/2, x/2) = erfc(sqrt(x/2)); Q(1, x/2) = e^(-x/2); Q(3/2) and Q(2) follow by recurrence.
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(half)), rel=1e-10)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-half), rel=1e-10)
    assert chi2_sf(x, 3) == pytest.approx(
        math.erfc(math.sqrt(half)) + math.sqrt(2 * x / math.pi) * math.exp(-half), rel=1e-10
    )
    assert chi2_sf(x, 4) == pytest.approx(math.exp(-half) * (1 + half), rel=1e-10)


def test_chi2_sf_is_one_at_zero_and_rejects_zero_degrees_of_freedom():
    assert chi2_sf(0.0, 3) == 1.0
    with pytest.raises(Invalid, match="degrees of freedom"):
        chi2_sf(1.0, 0)


# --- input validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "column", "problem"),
    [
        (pl.col("weeks") * -1, "weeks", "negative"),
        (pl.when(pl.col("weeks") == 6).then(None).otherwise(pl.col("weeks")), "weeks", "null"),
        (pl.when(pl.col("weeks") == 6).then(float("nan")).otherwise(pl.col("weeks")), "weeks", "finite"),
        (pl.col("weeks").cast(pl.String), "weeks", "numeric"),
        (pl.col("relapse") * 2, "relapse", "1 .* or 0"),
        (pl.when(pl.col("weeks") == 6).then(None).otherwise(pl.col("relapse")), "relapse", "null"),
        (pl.col("relapse").cast(pl.String), "relapse", "0/1"),
        (pl.when(pl.col("weeks") == 6).then(None).otherwise(pl.col("arm")), "arm", "null group"),
    ],
)
def test_bad_survival_input_is_invalid_naming_the_column(remission, change, column, problem):
    broken = remission.with_columns(change.alias(column))

    for call in (kaplan_meier, median_survival, log_rank):
        with pytest.raises(Invalid, match=f"'{column}'.*{problem}") as raised:
            call(broken, time="weeks", event="relapse", group="arm")
        assert raised.value.errors[0]["field"] == column


@pytest.mark.parametrize("missing", ["weeks", "relapse", "arm"])
def test_a_missing_column_is_invalid_naming_it(remission, missing):
    with pytest.raises(Invalid, match=f"'{missing}'.*no such column"):
        kaplan_meier(remission.drop(missing), time="weeks", event="relapse", group="arm")


def test_a_group_column_may_not_shadow_an_output_column(remission):
    with pytest.raises(Invalid, match="'survival'"):
        kaplan_meier(remission.rename({"arm": "survival"}), time="weeks", event="relapse", group="survival")


def test_an_empty_frame_is_invalid(remission):
    with pytest.raises(Invalid, match="no rows"):
        kaplan_meier(remission.head(0), time="weeks", event="relapse")


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.2])
def test_confidence_must_lie_between_zero_and_one(remission, confidence):
    with pytest.raises(Invalid, match="confidence"):
        kaplan_meier(remission, time="weeks", event="relapse", confidence=confidence)


# --- counts and ages -------------------------------------------------------------------------


@pytest.fixture
def cohort() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "histology": ["SCC", "SCC", "adeno", "SCC", None, "adeno", "SCC", "SCC"],
            "sex": ["M", "F", "M", "M", "F", "M", "F", "M"],
            "age": [45, 52, 61, 63, None, 70, 78, 59],
        }
    )


def test_counts_give_n_and_share_largest_first_with_missing_as_a_category(cohort):
    table = counts(cohort, "histology")

    assert table.rows() == [("SCC", 5, 5 / 8), ("adeno", 2, 2 / 8), (None, 1, 1 / 8)]


def test_counts_cross_several_columns(cohort):
    table = counts(cohort, ["histology", "sex"])

    assert table.row(0) == ("SCC", "M", 3, 3 / 8)
    assert table["n"].sum() == cohort.height
    assert table["share"].sum() == pytest.approx(1.0)


def test_counts_of_an_unknown_column_are_invalid(cohort):
    with pytest.raises(Invalid, match="'stage'"):
        counts(cohort, ["sex", "stage"])


def test_age_distribution_bins_by_decade_by_default(cohort):
    bins = age_distribution(cohort)

    assert bins.select("lower", "upper", "n").rows() == [
        (40.0, 50.0, 1),
        (50.0, 60.0, 2),
        (60.0, 70.0, 2),
        (70.0, 80.0, 2),
    ]
    assert bins["share"].sum() == pytest.approx(1.0)


def test_age_distribution_takes_explicit_edges(cohort):
    bins = age_distribution(cohort, bins=[40, 65, 80])

    assert bins.select("lower", "upper", "n").rows() == [(40.0, 65.0, 5), (65.0, 80.0, 2)]


def test_ages_outside_the_edges_are_invalid(cohort):
    with pytest.raises(Invalid, match=r"'age'.*outside"):
        age_distribution(cohort, bins=[50, 80])


def test_negative_ages_are_invalid(cohort):
    with pytest.raises(Invalid, match="'age'"):
        age_distribution(cohort.with_columns(age=-pl.col("age")))


def test_age_summary_gives_mean_sd_median_and_iqr(cohort):
    ages = [45, 52, 61, 63, 70, 78, 59]
    q1, _, q3 = statistics.quantiles(ages, n=4, method="inclusive")

    row = age_summary(cohort).row(0, named=True)

    assert (row["n"], row["n_missing"]) == (7, 1)
    assert row["mean"] == pytest.approx(statistics.mean(ages))
    assert row["sd"] == pytest.approx(statistics.stdev(ages))
    assert row["median"] == 61
    assert (row["q1"], row["q3"], row["iqr"]) == pytest.approx((q1, q3, q3 - q1))


# --- pictures --------------------------------------------------------------------------------


def texts(node: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in node.iter(f"{SVG}text")]


def by_id(root: ET.Element, prefix: str) -> list[ET.Element]:
    """The groups whose id starts with ``prefix`` (the picture names what it draws)."""
    return [e for e in root.iter(f"{SVG}g") if (e.get("id") or "").startswith(prefix)]


def stroke(group: ET.Element) -> str | None:
    (line,) = group.iter(f"{SVG}path")
    return line.get("stroke")


@pytest.fixture
def km_text(remission) -> str:
    km = kaplan_meier(remission, time="weeks", event="relapse", group="arm")
    return km_svg(km, title="Remission <6-MP & placebo>", time_unit="weeks", at_risk_times=[0, 10, 20, 30])


@pytest.fixture
def km_picture(km_text) -> ET.Element:
    return ET.fromstring(km_text)


def test_km_svg_is_well_formed_with_one_curve_and_band_per_group(km_picture):
    assert km_picture.tag == f"{SVG}svg"
    # Okabe & Ito blue and vermilion: apart for every common colour-vision deficiency
    assert [stroke(g) for g in by_id(km_picture, "km-curve-")] == ["#0072b2", "#d55e00"]
    bands = by_id(km_picture, "km-band-")
    assert len(bands) == 2
    assert all(float(u.get("fill-opacity") or 1) < 0.5 for b in bands for u in b.iter(f"{SVG}use"))


def test_km_svg_escapes_the_title_and_labels_the_axes(km_picture):
    labels = texts(km_picture)

    assert "Remission <6-MP & placebo>" in labels
    assert {"Time (weeks)", "Survival probability", "6-MP", "placebo", "censored"} <= set(labels)
    assert {"0", "10", "20", "30", "0.00", "0.50", "1.00"} <= set(labels)  # the axes' ticks


def test_km_svg_shows_each_group_in_the_legend(km_picture):
    (legend,) = by_id(km_picture, "legend")

    assert texts(legend) == ["6-MP", "placebo", "censored"]


def test_km_svg_prints_the_number_at_risk_beneath_the_plot(km_picture):
    (table,) = by_id(km_picture, "at-risk")

    assert texts(table) == ["Number at risk", "6-MP", "21", "15", "8", "4", "placebo", "21", "8", "2", "0"]


def test_km_svg_marks_each_censoring_time(km_picture):
    (marks,) = by_id(km_picture, "km-censor-")

    # 6-MP has censored patients at 11 distinct times; placebo has none, so no marks.
    assert marks.get("id") == "km-censor-1"
    assert len(list(marks.iter(f"{SVG}use"))) == 11


def test_km_svg_is_self_contained_and_the_same_each_time(km_text, km_picture, remission):
    km = kaplan_meier(remission, time="weeks", event="relapse", group="arm")
    again = km_svg(km, title="Remission <6-MP & placebo>", time_unit="weeks", at_risk_times=[0, 10, 20, 30])

    assert again == km_text  # no date, fixed ids: the same bytes for the same curves
    assert not [e for e in km_picture.iter() if e.tag in (f"{SVG}script", f"{SVG}foreignObject")]
    links = [v for e in km_picture.iter() for k, v in e.attrib.items() if k.endswith("href")]
    assert links
    assert all(v.startswith("#") for v in links)
    # Presentation attributes, not styles: the API's CSP (default-src 'none') drops inline styles.
    assert not [e for e in km_picture.iter() if e.tag == f"{SVG}style" or "style" in e.attrib]
    assert "font-face" not in km_text
    assert "url(http" not in km_text


def test_a_notebook_draws_the_same_picture(km_text, remission):
    from inescape import notebook

    km = notebook.kaplan_meier(remission, time="weeks", event="relapse", group="arm")
    drawn = notebook.km_svg(
        km, title="Remission <6-MP & placebo>", time_unit="weeks", at_risk_times=[0, 10, 20, 30]
    )

    assert drawn == km_text


def test_km_svg_draws_a_single_curve_without_a_group(remission):
    km = kaplan_meier(remission, time="weeks", event="relapse")

    root = ET.fromstring(km_svg(km, title="All"))

    assert len(by_id(root, "km-curve-")) == 1
    assert "All patients" in texts(root)


def test_km_svg_takes_labels_as_plain_text(remission):
    frame = remission.with_columns(
        arm=pl.when(pl.col("arm") == "6-MP").then(pl.lit("$5 & <b>")).otherwise("arm")
    )
    km = kaplan_meier(frame, time="weeks", event="relapse", group="arm")

    root = ET.fromstring(km_svg(km, title="costs in $"))

    assert {"costs in $", "$5 & <b>"} <= set(texts(root))


def test_km_svg_rejects_a_frame_that_is_not_a_curve(remission):
    with pytest.raises(Invalid, match=r"'time'.*no such column"):
        km_svg(remission, title="raw rows")


def test_km_svg_stays_well_formed_for_three_groups():
    frame = pl.DataFrame(
        {"time": [1, 2, 3, 4, 5, 6], "event": [1, 0, 1, 1, 0, 1], "g": ["x", "x", "y", "y", "z", "z"]}
    )

    root = ET.fromstring(km_svg(kaplan_meier(frame, group="g"), title="three"))

    assert len(by_id(root, "km-curve-")) == 3


def test_km_svg_grows_taller_for_many_groups_and_dashes_the_second_round_of_colours():
    groups = [f"group {i}" for i in range(9)]
    frame = pl.DataFrame(
        {
            "time": [t for _ in groups for t in (1, 2)],
            "event": [1, 0] * 9,
            "g": [g for g in groups for _ in (1, 2)],
        }
    )

    root = ET.fromstring(km_svg(kaplan_meier(frame, group="g"), title="nine", height=400))

    assert float(root.get("height", "0").removesuffix("pt")) > 400 * 0.75
    curves = by_id(root, "km-curve-")
    assert len(curves) == 9
    dashes = [next(g.iter(f"{SVG}path")).get("stroke-dasharray") for g in curves]
    assert dashes[:7] == [None] * 7
    assert all(d for d in dashes[7:])


def test_histogram_svg_draws_a_bar_per_bin_with_its_count(cohort):
    bins = age_distribution(cohort)

    root = ET.fromstring(histogram_svg(bins, title="Age at diagnosis", summary=age_summary(cohort)))

    bars = [g for g in by_id(root, "bar-") if not (g.get("id") or "").startswith("bar-count-")]
    assert len(bars) == 4
    assert [t for g in by_id(root, "bar-count-") for t in texts(g)] == ["1", "2", "2", "2"]
    (summary,) = by_id(root, "summary")
    assert "n = 7" in texts(summary)[0]
    assert "1 missing" in texts(summary)[0]
    assert {"Age (years)", "Patients", "median"} <= set(texts(root))
