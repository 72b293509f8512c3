"""Every read and write the stages make. Each write is idempotent: redelivered events change nothing.

One class, assembled from a part per concern so no file grows past a screenful of concerns.
"""

from warnengine.db.store.api import ApiQueries
from warnengine.db.store.audit import AuditQueries
from warnengine.db.store.base import OPEN, UNFINISHED, StoreBase
from warnengine.db.store.closure import ClosureQueries
from warnengine.db.store.deliveries import DeliveryQueries
from warnengine.db.store.devices import DeviceQueries
from warnengine.db.store.directory import DirectoryQueries
from warnengine.db.store.duty import DutyQueries
from warnengine.db.store.eb import EbQueries
from warnengine.db.store.escalation import EscalationQueries
from warnengine.db.store.evacuation import EvacuationQueries
from warnengine.db.store.field_reports import FieldReportQueries
from warnengine.db.store.groups import GroupQueries
from warnengine.db.store.keepers import KeeperQueries
from warnengine.db.store.links import LinkQueries
from warnengine.db.store.orgs import OrgQueries
from warnengine.db.store.people import PeopleQueries
from warnengine.db.store.persons import PersonQueries
from warnengine.db.store.plan import PlanQueries
from warnengine.db.store.reach import ReachQueries
from warnengine.db.store.reconcile import ReconcileQueries
from warnengine.db.store.reports import ReportQueries
from warnengine.db.store.upward import UpwardQueries
from warnengine.db.store.visits import VisitQueries
from warnengine.db.store.warnings import WarningQueries
from warnengine.model.records import (  # re-exported: the store's row types live in the model
    Acknowledged,
    AckTiming,
    DeviceChange,
    DueDelivery,
    LiveVersion,
    VillageTarget,
    VisitTask,
)


class Store(
    DirectoryQueries,
    WarningQueries,
    DeliveryQueries,
    GroupQueries,
    ReconcileQueries,
    ReportQueries,
    DeviceQueries,
    ApiQueries,
    AuditQueries,
    ReachQueries,
    PlanQueries,
    PeopleQueries,
    EscalationQueries,
    ClosureQueries,
    DutyQueries,
    LinkQueries,
    EbQueries,
    FieldReportQueries,
    EvacuationQueries,
    UpwardQueries,
    KeeperQueries,
    OrgQueries,
    PersonQueries,
    VisitQueries,
):
    """The record: SQLite (embedded) or PostgreSQL (production), one schema."""


__all__ = [
    "OPEN",
    "UNFINISHED",
    "AckTiming",
    "Acknowledged",
    "DeviceChange",
    "DueDelivery",
    "LiveVersion",
    "Store",
    "StoreBase",
    "VillageTarget",
    "VisitTask",
]
