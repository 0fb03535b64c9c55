"""A policy of the root committee for 2025 and 2026: one objective, a manual indicator
broken down to A (committee) and A1 (branch), and a computed conformity-rate indicator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import translation

from pbqms.objectives import services
from pbqms.objectives.models import Indicator, Objective, Policy


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@dataclass
class Plan:
    policy: Policy
    objective: Objective
    manual: Indicator  # higher is better, target 90 (%)
    rate: Indicator  # conformity rate, target 95


def make_plan(users, tree, year=2026) -> Plan:
    admin = users.party_admin
    policy = services.save_policy(
        actor=admin, org=tree.root, year=year, title=f"{year}年党建工作方针目标",
        statement="围绕中心抓党建，抓好党建促发展",
    )  # fmt: skip
    objective = services.save_objective(
        actor=admin, policy=policy, code="M1", title="组织生活规范化"
    )
    manual = services.save_indicator(
        actor=admin, objective=objective, code="I1", name="党员学习教育参学率",
        unit_of_measure="%", direction="higher", target="90",
    )  # fmt: skip
    rate = services.save_indicator(
        actor=admin, objective=objective, code="I2", name="三会一课按期完成率",
        unit_of_measure="", direction="higher", target="95", source="conformity_rate",
    )  # fmt: skip
    services.set_targets(
        actor=admin, indicator=manual, targets={tree.sub_a: "92", tree.branch_a1: "95"}
    )
    return Plan(policy, objective, manual, rate)


@pytest.fixture
def plan(users, tree) -> Plan:
    return make_plan(users, tree)


from tests.system.conftest import requirement, templates  # noqa: E402, F401 (fixtures)
