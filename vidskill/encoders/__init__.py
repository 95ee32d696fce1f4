"""Encoders: frames -> per-window `Features`. `get_encoder("flow-hof", **settings)` builds one;
`encode_video(path, encoder)` streams a whole video through one."""

from vidskill.encoders.base import Encoder, Features, TooShortError
from vidskill.encoders.registry import (
    DEFAULT_ENCODER,
    ENCODERS,
    available_encoders,
    encoder_class,
    get_encoder,
)
from vidskill.encoders.stream import encode_video, encode_video_multi

__all__ = [
    "DEFAULT_ENCODER", "ENCODERS", "Encoder", "Features", "TooShortError", "available_encoders",
    "encode_video", "encode_video_multi", "encoder_class", "get_encoder",
]
