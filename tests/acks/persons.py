"""到人 in the ack tests: a household is reached when all its members are accounted for (issue 17), so a
test that checks one member's answer reaching the household first has the rest of it accounted for."""

from __future__ import annotations

from collections.abc import Iterable

from warnengine.db.store import Store
from warnengine.db.store.persons import named_rows


async def rest_accounted(store: Store, warning_id: str, person_ids: Iterable[str | None]) -> None:
    """Everyone else of these persons' households accounted for already (a visitor named them): the
    persons' own answers then complete their households."""
    answering = {p for p in person_ids if p}
    homes: dict[str, list[str]] = {}
    for pid in sorted(answering):
        _, home = await store.person_household(pid)
        if home:
            people = await store.household_people(home)
            assert people is not None and people[0] == len(people[1]), "every member named"
            homes[home] = [p for p in people[1] if p not in answering]
    await store.account_persons(
        [r for h, rest in homes.items() for r in named_rows(warning_id, h, rest, "visit", 0.0, "test")]
    )
