"""The domain model: plain pydantic types shared by every stage. Imports nothing else of warnengine."""

from warnengine.model.delivery import (
    AckState,
    Channel,
    DeliveryState,
    SpeakerAck,
    SpeakerCommand,
    command_id,
    delivery_id,
    parse_command_id,
)
from warnengine.model.grid import Cell, Device, Household, Level, MonitoringPoint, Person, Role
from warnengine.model.warning import (
    Area,
    Circle,
    Hazard,
    HazardWarning,
    MsgType,
    Severity,
    Status,
)

__all__ = [
    "AckState",
    "Area",
    "Cell",
    "Channel",
    "Circle",
    "DeliveryState",
    "Device",
    "Hazard",
    "HazardWarning",
    "Household",
    "Level",
    "MonitoringPoint",
    "MsgType",
    "Person",
    "Role",
    "Severity",
    "SpeakerAck",
    "SpeakerCommand",
    "Status",
    "command_id",
    "delivery_id",
    "parse_command_id",
]
