"""vidskill: unsegmented video in, a searchable library of skill clips and template choices out.

The one-call API: `open_video` (video), `encode_video` (encoders), `segment` and
`segment_videos` (segment.py),
`ClipStore` (store), `choose` (select), `ingest` (ingest). All but `segment` are imported
on first use, so `import vidskill` loads neither FAISS nor torch; `segment` is imported
here because the module of the same name would otherwise shadow the function.
"""

from importlib.metadata import PackageNotFoundError, version

from vidskill._lazy import lazy_exports
from vidskill.segment import segment, segment_videos

try:
    __version__ = version("vidskill")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "open_video": "vidskill.video",
    "encode_video": "vidskill.encoders",
    "get_encoder": "vidskill.encoders",
    "get_detector": "vidskill.boundaries",
    "ClipStore": "vidskill.store",
    "ingest": "vidskill.ingest",
    "choose": "vidskill.select.choose",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["__version__", "segment", "segment_videos", *_EXPORTS]
