"""The errors a clip store raises; each says what to do."""

from __future__ import annotations

from vidskill.errors import VidskillError


class StoreError(VidskillError):
    """The store folder cannot be used as asked."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """No store exists at the path given."""


class StorePathError(StoreError, ValueError):
    """The store path names a file, not a folder (a bad argument)."""


class StoreLockedError(StoreError):
    """Another process is writing to the store."""


class StoreSettingsError(StoreError):
    """The settings asked for differ from those the store was built with."""


class EmptyQueryError(StoreError, ValueError):
    """The query embeds to the zero vector (nothing moves in it), so it ranks nothing."""


class NoMatchError(StoreError):
    """No stored clip passes the query's filters (domain, label)."""


class SegmentNotFoundError(StoreError, KeyError):
    """No segment has the id given."""

    def __str__(self) -> str:
        return str(self.args[0])
