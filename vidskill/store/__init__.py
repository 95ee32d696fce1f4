"""The clip store: a SQLite catalog, feature files and one FAISS index per encoder."""

from vidskill.encoders.base import POOLINGS
from vidskill.store.catalog import CATALOG, Catalog, SegmentRecord, VideoRecord
from vidskill.store.errors import (
    SegmentNotFoundError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
    StoreSettingsError,
)
from vidskill.store.index import clip_embedding, default_factory, ivf_lists
from vidskill.store.store import ClipStore, Hit

__all__ = [
    "CATALOG", "POOLINGS", "Catalog", "ClipStore", "Hit", "SegmentNotFoundError", "SegmentRecord",
    "StoreError", "StoreLockedError", "StoreNotFoundError", "StoreSettingsError", "VideoRecord",
    "clip_embedding", "default_factory", "ivf_lists",
]
