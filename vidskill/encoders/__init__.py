"""Encoders: frames -> per-window `Features`. `get_encoder("flow-hof", **settings)` builds one;
`encode_video(path, encoder)` streams a whole video through one."""

from vidskill.encoders.base import POOLINGS, Encoder, Features, TooShortError
from vidskill.encoders.registry import (
    DEFAULT_ENCODER,
    ENCODERS,
    available_encoders,
    clip_model,
    encoder_class,
    get_encoder,
)
from vidskill.encoders.stream import CHUNK_SECONDS, FLOW_SIZE, encode_video, encode_video_multi

__all__ = [
    "CHUNK_SECONDS", "DEFAULT_ENCODER", "ENCODERS", "FLOW_SIZE", "POOLINGS", "Encoder",
    "Features", "TooShortError", "available_encoders", "clip_model", "encode_video",
    "encode_video_multi", "encoder_class", "get_encoder",
]
