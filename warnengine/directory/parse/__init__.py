"""Parsing and checking the directory files: every problem is collected with its line, none raised.

One module per file (grid, households, people, devices, points); fields.py holds the names, the columns
and the checks of one field that they share.
"""

from warnengine.directory.parse.devices import read_devices
from warnengine.directory.parse.fields import (
    DEVICE_FIELDS,
    DEVICES_FILE,
    GRID_FILE,
    HOUSEHOLD_FIELDS,
    HOUSEHOLDS_FILE,
    OPT_IN_FIELD,
    PEOPLE_FIELDS,
    PEOPLE_FILE,
    PHONE_RE,
    POINT_FIELDS,
    POINTS_FILE,
    PROVIDER_FIELD,
    RESPONSIBLE_FIELD,
    SIG_ALG_FIELD,
    SIG_ALGS,
    Problem,
)
from warnengine.directory.parse.grid import SHAPEFILE, read_grid
from warnengine.directory.parse.households import read_households
from warnengine.directory.parse.people import read_people
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.points import read_points
from warnengine.directory.parse.tables import ReadOptions, find_table, open_table

__all__ = [
    "DEVICES_FILE",
    "DEVICE_FIELDS",
    "GRID_FILE",
    "HOUSEHOLDS_FILE",
    "HOUSEHOLD_FIELDS",
    "OPT_IN_FIELD",
    "PEOPLE_FIELDS",
    "PEOPLE_FILE",
    "PHONE_RE",
    "POINTS_FILE",
    "POINT_FIELDS",
    "PROVIDER_FIELD",
    "RESPONSIBLE_FIELD",
    "SHAPEFILE",
    "SIG_ALGS",
    "SIG_ALG_FIELD",
    "Place",
    "Problem",
    "ReadOptions",
    "find_table",
    "open_table",
    "read_devices",
    "read_grid",
    "read_households",
    "read_people",
    "read_points",
]
