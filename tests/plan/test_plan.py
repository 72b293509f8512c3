from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.resolve.hand_county import COUNTY, PEOPLE, V1, V2, hand_directory, square
from warnengine.model import Area, Channel, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.plan import VillagePlan, plan_warning
from warnengine.plan.policy import DEFAULT, DisseminationPolicy, DisseminationPolicyError, load_policy
from warnengine.resolve.directory import Directory
from warnengine.resolve.targets import resolve_areas

POLICY = load_policy(Path(__file__).resolve().parents[2] / "config" / "policy.yaml")


@pytest.fixture(scope="module")
def directory() -> Directory:
    return hand_directory()


def warning(area: Area, severity: Severity = Severity.RED, status: Status = Status.ACTUAL) -> HazardWarning:
    return HazardWarning(
        warning_id="w-1",
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=status,
        hazard=Hazard.METEO,
        severity=severity,
        event="暴雨",
        areas=[area],
    )


def plan(directory: Directory, w: HazardWarning, policy: DisseminationPolicy = POLICY) -> list[VillagePlan]:
    reach = resolve_areas(directory, w.areas)
    return list(plan_warning(w, reach, directory, policy.rule_for(w.hazard, w.severity, w.event)))


def people(plans: list[VillagePlan]) -> dict[str, set[Channel]]:
    out: dict[str, set[Channel]] = {}
    for p in plans:
        for _did, ch, _addr, pid, _hid, _cell in p.deliveries:
            if pid is not None:  # None: a village group's robot
                out.setdefault(pid, set()).add(Channel(ch))
    return out


def test_red_reaches_residents_on_every_channel_and_staff_once(directory: Directory) -> None:
    plans = plan(directory, warning(Area(codes=[V1])))
    assert [p.village for p in plans] == [V1]
    assert {h for h, _, _ in plans[0].households} == {"h1", "h2", "h3"}
    got = people(plans)
    # p10 has SMS and WeChat; p11 has no address at all (the household still counts: a visit reaches it).
    assert got["p10"] == {Channel.SMS, Channel.WECHAT} and "p11" not in got
    assert got["p12"] == {Channel.SMS, Channel.APP}
    # Staff of the village, its township and the county; the group leader lives in h2 and is planned once.
    assert {"p01", "p02", "p03", "p04", "p05"} <= set(got)
    ids = [d[0] for p in plans for d in p.deliveries]
    assert len(ids) == len(set(ids))
    assert plans[0].devices == ["spk-1"]


def test_a_landline_never_gets_sms() -> None:
    """p10's and p03's numbers are landlines (phone_kind fixed_line): no SMS, the other channels as before;
    a number of no recorded kind (imported before kinds) still gets SMS."""
    kinds = {"p10": "fixed_line", "p03": "fixed_line", "p12": "mobile"}
    rows = [(*row, kinds[str(row[0])]) if row[0] in kinds else row for row in PEOPLE]
    landlines = hand_directory(rows)
    got = people(plan(landlines, warning(Area(codes=[V1]))))
    assert got["p10"] == {Channel.WECHAT} and "p03" not in got  # p03 has nothing else
    assert got["p12"] == {Channel.SMS, Channel.APP} and Channel.SMS in got["p01"]
    sms = [d for p in plan(landlines, warning(Area(codes=[V1]))) for d in p.deliveries if d[1] == "sms"]
    assert not {d[2] for d in sms} & {"+8613800000010", "+8613800000003"}
    assert landlines.people_at("+8613800000010") == ["p10"]  # still known by its number


def test_yellow_reaches_vulnerable_residents_only(directory: Directory) -> None:
    plans = plan(directory, warning(Area(codes=[V1]), Severity.YELLOW))
    got = people(plans)
    assert "p12" in got and "p10" not in got  # h3 is vulnerable, h1 is not
    assert {h for h, _, _ in plans[0].households} == {"h1", "h2", "h3"}  # every household is still tracked


def test_drill_reaches_only_those_who_opted_in(directory: Directory) -> None:
    plans = plan(directory, warning(Area(codes=[V1, V2]), status=Status.EXERCISE))
    got = people(plans)
    assert "p10" not in got and "p13" not in got and "p12" in got and "p03" in got
    # Only households with someone taking part count; spk-2 (V2) did not opt in to drills.
    assert {h for p in plans for h, _, _ in p.households} == {"h2", "h3"}
    assert [d for p in plans for d in p.devices] == ["spk-1"]


def test_point_alarm_calls_its_lead_and_threatened_households(directory: Directory) -> None:
    w = warning(Area(codes=["point:gp1"]), Severity.ORANGE).model_copy(update={"hazard": Hazard.GEOHAZARD})
    plans = plan(directory, w)
    assert {h for p in plans for h, _, _ in p.households} == {"h2", "h3"}
    assert "p05" in people(plans)


def test_area_outside_the_county_plans_nothing(directory: Directory) -> None:
    w = warning(Area(polygons=[[(x, y) for x, y in square(120.0, 30.0, 120.1, 30.1)]]))
    assert plan(directory, w) == []


def test_default_policy_reaches_grid_heads_and_loudspeakers(directory: Directory) -> None:
    plans = plan(directory, warning(Area(codes=[COUNTY])), DEFAULT)
    assert set(people(plans)) == {"p02", "p03"}
    assert sorted(d for p in plans for d in p.devices) == ["spk-1", "spk-2", "spk-3", "spk-4"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [{name: x, hazards: [any], severities: [purple]}]", "severities"),
        ("rules: [{name: x, hazards: [any], severities: [red], channels: [loudspeaker]}]", "channels"),
        (
            "rules: [{name: x, hazards: [any], severities: [red], ladder: [{after_min: 5, action: escalate}]}]",  # noqa: E501
            "`to`",
        ),
        ("rules: [{name: x, hazards: [any], severities: [red], staff_roles: [resident]}]", "residents"),
        ("rules: [{name: x, hazards: [any], severities: [red], colour: red}]", "colour"),
        ("rules: [", "cannot read"),
    ],
)
def test_bad_policy_files_are_refused_with_the_reason(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DisseminationPolicyError, match=problem):
        load_policy(path)


def test_a_manual_loudspeaker_broadcast_reaches_terminals_only(directory: Directory) -> None:
    from warnengine.manual.broadcast import EVENT

    w = warning(Area(codes=[COUNTY])).model_copy(update={"event": EVENT})
    plans = plan(directory, w)
    assert people(plans) == {} and sorted(d for p in plans for d in p.devices) == [
        "spk-1",
        "spk-2",
        "spk-3",
        "spk-4",
    ]
    assert POLICY.rule_for(w.hazard, w.severity, w.event).name == "loudspeaker-broadcast"


def test_a_landline_is_called_never_texted() -> None:
    """Voice in the policy: a landline-only person (phone_kind fixed_line) gets a call on the landline and
    no SMS; a person with a mobile is called on the mobile."""
    kinds = {"p10": "fixed_line", "p03": "fixed_line"}
    rows = [(*row, kinds[str(row[0])]) if row[0] in kinds else row for row in PEOPLE]
    landlines = hand_directory(rows)
    [red] = [r for r in POLICY.rules if r.name == "red"]
    policy = DisseminationPolicy(rules=(red.model_copy(update={"channels": (Channel.SMS, Channel.VOICE)}),))
    plans = plan(landlines, warning(Area(codes=[V1])), policy)
    got = people(plans)
    assert Channel.VOICE in got["p10"] and Channel.SMS not in got["p10"]
    assert got["p03"] == {Channel.VOICE}
    assert got["p01"] >= {Channel.SMS, Channel.VOICE}
    by = {(d[3], d[1]): d[2] for p in plans for d in p.deliveries}
    assert by[("p10", "voice")] == "+8613800000010" and by[("p03", "voice")] == "+8613800000003"
    assert by[("p01", "voice")] == by[("p01", "sms")]
