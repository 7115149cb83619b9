"""Decision support's risk answer from the registry's production model, through the training
facades (fakes at the ports): no model, a model it evaluates, a network it cannot, and a
promotion that makes the next answer reload. And what cds's ``bind`` wires."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import msgspec

from inescape.modules.cds.api import StagingApi
from inescape.modules.cds.module import spec
from inescape.modules.cds.risk import NO_MODEL, RiskService
from inescape.modules.cds.service import DecisionService
from inescape.modules.training.api import ModelCard
from inescape.modules.training.events import ModelPromoted, ModelRegistered
from inescape.modules.training.portable import PortableModels
from inescape.runtime import library
from tests.modules.training.test_survival_model_format import MODEL

FACTS = {"age": 70, "histology": "adenocarcinoma"}


def card(
    version: int = 1, *, format: str = "inescape.cox.v1", name: str = "os", purpose: str = "overall-survival"
) -> ModelCard:
    return ModelCard(
        name=name,
        version=version,
        task="survival",
        purpose=purpose,
        format=format,
        stage="production",
        artifact=f"training/model/{name}/{version}/model.json",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        metrics={"c_index": 0.72},
    )


class FakeRegistry:
    """``RegistryApi`` over one production card, counting what it is asked."""

    def __init__(self, production: ModelCard | None = None) -> None:
        self.current = production
        self.models = {1: MODEL, 2: msgspec.structs.replace(MODEL, coefficients=[0.06, -0.2])}
        self.reads = 0

    async def production(self, name: str) -> ModelCard | None:
        return self.current if self.current is not None and self.current.name == name else None

    async def serving(self, purpose: str) -> ModelCard | None:
        self.reads += 1
        return self.current if self.current is not None and self.current.purpose == purpose else None

    async def portable(self, name: str, version: int):
        return self.models[version]


def risk_for(registry: FakeRegistry, refresh_s: float = 3600) -> RiskService:
    return RiskService(registry=registry, models=PortableModels(), refresh_s=refresh_s)


async def test_without_a_production_model_the_answer_says_so_and_gives_no_number():
    answer = await risk_for(FakeRegistry()).assess(facts=FACTS)

    assert answer.available is False
    assert answer.message == NO_MODEL.format(purpose="overall-survival")
    assert answer.horizons == []


async def test_the_production_cox_model_gives_survival_at_one_three_and_five_years():
    answer = await risk_for(FakeRegistry(card())).assess(facts=FACTS)

    expected = PortableModels().predict(MODEL, FACTS, months=[12.0, 36.0, 60.0])
    assert answer.available is True
    assert (answer.model, answer.version, answer.purpose) == ("os", 1, "overall-survival")
    assert [h.years for h in answer.horizons] == [1, 3, 5]
    assert [h.survival for h in answer.horizons] == [p.survival for p in expected]


async def test_a_missing_fact_is_named_instead_of_guessed():
    answer = await risk_for(FakeRegistry(card())).assess(facts={"age": 70})

    assert answer.available is False
    assert answer.missing == ["histology"]


async def test_a_network_in_production_is_named_and_not_evaluated():
    answer = await risk_for(FakeRegistry(card(format="inescape.torch.v1"))).assess(facts=FACTS)

    assert answer.available is False
    assert "inescape.torch.v1" in answer.message
    assert answer.version == 1


async def test_any_promotion_reloads_the_model_at_the_next_answer_and_a_registration_does_not():
    registry = FakeRegistry(card(1))
    risk = risk_for(registry)
    await risk.assess(facts=FACTS)
    registry.current = card(2, name="another-name")

    await risk.on_promoted(ModelRegistered(name="another-name", version=2))
    assert (await risk.assess(facts=FACTS)).version == 1
    await risk.on_promoted(ModelPromoted(name="another-name", version=2))
    answer = await risk.assess(facts=FACTS)
    assert (answer.model, answer.version) == ("another-name", 2)
    assert registry.reads == 2


async def test_a_model_in_production_for_another_purpose_does_not_answer():
    answer = await risk_for(FakeRegistry(card(purpose="pathologic-response"))).assess(facts=FACTS)

    assert answer.available is False
    assert "overall-survival" in answer.message


class Facades:
    def __init__(self, **by_name: object) -> None:
        self.by_name = by_name

    def get(self, face: type) -> object:
        return self.by_name[face.__name__]


def test_bind_gives_the_routes_their_services_and_subscribes_to_promotions():
    ctx = SimpleNamespace(
        platform=SimpleNamespace(documents=object(), clock=object()),
        settings=None,
        facades=Facades(
            RegistryApi=FakeRegistry(),
            SurvivalModels=PortableModels(),
            PatientsApi=object(),
            ClinicalCodecs=object(),
            GatewayApi=object(),
        ),
    )

    bound = spec.bind(ctx)

    assert set(bound.dependencies) == {"decisions", "hook_service"}  # audit is the gateway's
    assert isinstance(bound.dependencies["decisions"], DecisionService)
    (subscription,) = bound.subscriptions
    assert subscription.event_type is ModelPromoted
    assert spec.owns == ("cds_cards", "cds_feedback")
    assert {face.__name__ for face in spec.requires} == {
        "RegistryApi",
        "SurvivalModels",
        "PatientsApi",
        "ClinicalCodecs",
        "GatewayApi",
    }


def test_the_staging_library_stages_and_recommends_on_plain_values():
    staging: StagingApi = library(StagingApi)

    assert (
        staging.stage(
            kind="pathological", histology="adenocarcinoma", t="T1b", n="N0", m="M0", grade="G3"
        ).stage_group
        == "IC"
    )
    answer = staging.recommend(
        histology="adenocarcinoma",
        location="egj",
        t="T3",
        n="N1",
        m="M0",
        ecog=1,
        fit_for_surgery=True,
        her2="0",
        msi="MSS",
    )
    assert answer.options
