"""The county directory: grid cells, households, people and loudspeakers, on disk and generated."""

from warnengine.directory.files import County, DirectoryError, check_county, read_county, write_county
from warnengine.directory.generate import generate_county
from warnengine.directory.parse import ReadOptions

__all__ = [
    "County",
    "DirectoryError",
    "ReadOptions",
    "check_county",
    "generate_county",
    "read_county",
    "write_county",
]
