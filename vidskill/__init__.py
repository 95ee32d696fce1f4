"""vidskill: unsegmented video in, a searchable library of skill clips and template choices out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidskill")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
