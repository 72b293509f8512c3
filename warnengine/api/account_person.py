"""Which person of the directory an API account is (issue 17): a shelter keeper's account checks people
in at the shelter they keep (shelters.csv keeper_person_id) and nowhere else; the duty room everywhere."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.accounts import USERNAME
from warnengine.api.audit import record
from warnengine.api.auth import ApiRole
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError, not_found
from warnengine.api.evacuation import PERSON_ID
from warnengine.api.routing import Op, body, json_out


class AccountPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str | None = Field(pattern=PERSON_ID, description="a person_id of people.csv; null: none")


class AccountPerson(BaseModel):
    username: str
    person_id: str | None


async def set_account_person(request: web.Request) -> web.Response:
    c = ctx(request)
    username = request.match_info["username"]
    data = body(request, AccountPersonIn)
    if await c.store.get_user(username) is None:
        raise not_found(f"user {username}")
    if data.person_id is not None and not (await c.store.person_household(data.person_id))[0]:
        raise ApiError(
            422, "unknown_person", f"person_id: {data.person_id} is not in the directory", "person_id"
        )
    await c.store.link_account(username, data.person_id)
    await record(request, "user.person", username, person_id=data.person_id)
    return json_out(AccountPerson(username=username, person_id=data.person_id))


OPS = [
    Op(
        "PUT",
        "/api/v1/users/{username}/person",
        set_account_person,
        "Which directory person a user is (a shelter keeper checks in only at their own shelter)",
        "users",
        frozenset({ApiRole.ADMIN}),
        body=AccountPersonIn,
        response=AccountPerson,
        errors=(404, 422),
        path_params={"username": {"type": "string", "pattern": USERNAME.pattern}},
    ),
]
