"""The county directory: grid cells, households, people and loudspeakers, on disk and generated."""

from warnengine.directory.files import County, DirectoryError, read_county, write_county
from warnengine.directory.generate import generate_county

__all__ = ["County", "DirectoryError", "generate_county", "read_county", "write_county"]
