"""`Store` is every stage's store: each stage names the few members it uses in a Protocol of its own.

`_conforms` is checked by mypy (`mypy --strict tests/db/test_store_protocols.py`), the test at run time:
every member a protocol names is on the Store, with the same parameters, annotations and return type.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from warnengine.acks.store import AcksStore
from warnengine.clock import ManualClock
from warnengine.db.store import Store
from warnengine.devices.link_tests import LinkStore
from warnengine.devices.pages import PagesStore
from warnengine.devices.store import DevicesStore
from warnengine.dispatch.store import DispatchStore
from warnengine.escalate.store import EscalateStore
from warnengine.normalise.store import NormaliseStore
from warnengine.plan.store import PlanStore
from warnengine.reconcile.store import ReconcileStore
from warnengine.report.store import ReportStore

PROTOCOLS: list[type[Any]] = [
    AcksStore,
    DevicesStore,
    DispatchStore,
    EscalateStore,
    LinkStore,
    NormaliseStore,
    PagesStore,
    PlanStore,
    ReconcileStore,
    ReportStore,
]


def _conforms(store: Store) -> None:
    _acks: AcksStore = store
    _devices: DevicesStore = store
    _dispatch: DispatchStore = store
    _escalate: EscalateStore = store
    _links: LinkStore = store
    _pages: PagesStore = store
    _normalise: NormaliseStore = store
    _plan: PlanStore = store
    _reconcile: ReconcileStore = store
    _report: ReportStore = store


def _members(proto: type[Any]) -> dict[str, Any]:
    return {k: v for k, v in vars(proto).items() if not k.startswith("_")}


def _shape(f: Any) -> tuple[object, ...]:
    sig = inspect.signature(f)
    params = tuple((p.name, p.kind, p.annotation, p.default is not p.empty) for p in sig.parameters.values())
    return params, sig.return_annotation, inspect.iscoroutinefunction(f)


@pytest.mark.parametrize("proto", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_store_has_every_member_of_the_protocol(proto: type[Any]) -> None:
    store = Store(create_async_engine("sqlite+aiosqlite://"), ManualClock(0.0))
    assert _members(proto)
    for name, member in _members(proto).items():
        assert hasattr(store, name), f"Store has no {name}"
        if isinstance(member, property):
            continue  # an attribute or a property of the store: mypy checks its type
        assert _shape(member) == _shape(getattr(Store, name)), f"{proto.__name__}.{name} differs from Store's"
