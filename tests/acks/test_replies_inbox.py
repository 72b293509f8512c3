"""Replies that are neither an acknowledgement nor a visitor's "完成" open a field report (issue 17):
named by the person at the number and their village, once per reply however often the webhook repeats it;
an empty reply, or one with no sender, is kept too — nothing a person wrote is dropped."""

from __future__ import annotations

from prometheus_client import REGISTRY

from channels.base import ChannelEvent
from tests.acks.test_people import planned
from tests.acks.test_replies import reply, sms_of
from warnengine.acks.people import apply_channel_events
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model.field_report import ReportKind, ReportSource, ReportState


async def test_replies_not_acks_go_to_the_inbox(store: Store, small_county: County) -> None:
    w, directory = await planned(store, small_county)
    a = (await sms_of(store, w.warning_id))[0]
    person = next(p for p in small_county.people if p.phone == a["recipient"])
    before = REGISTRY.get_sample_value("warnengine_field_reports_total", {"source": "reply"}) or 0.0
    batch = [
        reply(a["recipient"], 5.0, "后山有滚石，路断了"),
        reply(a["recipient"], 6.0, "收到"),  # an acknowledgement: not a report
        reply(a["recipient"], 7.0, "完成"),  # a visitor's done word: not a report
        reply(a["recipient"], 8.0, "   "),  # empty: still a person's answer
        ChannelEvent("wechat-oa", "reply", 9.0, text="🙏🙏"),  # no sender (the provider lost it)
    ]
    counts = await apply_channel_events(batch, store, directory)
    assert counts["replies_to_inbox"] == 3
    reports = {r.created_at: r for r in await store.field_reports()}
    assert sorted(reports) == [5.0, 8.0, 9.0]
    rock = reports[5.0]
    assert (rock.source, rock.kind, rock.state) == (ReportSource.REPLY, ReportKind.REPLY, ReportState.OPEN)
    assert "滚石" in rock.text and person.person_id in rock.text and rock.reporter == person.person_id
    assert rock.household_id == person.household_id and rock.village_code == a["village_code"]
    assert "空回复" in reports[8.0].text and "unknown sender" in reports[9.0].text
    # The webhook delivered the same batch again: no second report.
    again = await apply_channel_events(batch, store, directory)
    assert again["replies_to_inbox"] == 0 and len(await store.field_reports()) == 3
    after = REGISTRY.get_sample_value("warnengine_field_reports_total", {"source": "reply"}) or 0.0
    assert after - before == 3
