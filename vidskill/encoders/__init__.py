"""Encoders: frames -> per-window `Features`. `get_encoder("flow-hof", **settings)` builds one.

Adding an encoder is one file defining a class with `name`, `dim` and `encode(frames)`, and
one line in `ENCODERS` below (imported lazily, so torchvision loads only when asked for).
"""

from __future__ import annotations

from importlib import import_module

from vidskill.encoders.base import Encoder, Features, TooShortError
from vidskill.encoders.stream import encode_video, encode_video_multi
from vidskill.errors import VidskillError

ENCODERS: dict[str, str] = {
    "flow-hof": "vidskill.encoders.hof:HOFEncoder",
    "flow-motion": "vidskill.encoders.motion:MotionEncoder",
    "flow-cnn": "vidskill.encoders.flowcnn:FlowCNNEncoder",
    "skill-tcn": "vidskill.encoders.skilltcn:SkillTCNEncoder",
    "r3d_18": "vidskill.encoders.video_models:R3D18",
    "r2plus1d_18": "vidskill.encoders.video_models:R2Plus1D18",
    "mc3_18": "vidskill.encoders.video_models:MC318",
    "s3d": "vidskill.encoders.video_models:S3D",
    "mvit_v2_s": "vidskill.encoders.video_models:MViTV2S",
}
DEFAULT_ENCODER = "flow-hof"


def available_encoders() -> list[str]:
    """Names `get_encoder` accepts."""
    return list(ENCODERS)


def encoder_class(name: str) -> type:
    """The class registered under `name`."""
    if name not in ENCODERS:
        raise VidskillError(
            f"unknown encoder {name!r}; available: {', '.join(ENCODERS)}"
        )
    module, cls = ENCODERS[name].split(":")
    return getattr(import_module(module), cls)


def get_encoder(name: str = DEFAULT_ENCODER, **settings) -> Encoder:
    """An encoder by registry name, built with `settings` (see each class for its options)."""
    return encoder_class(name)(**settings)


__all__ = [
    "DEFAULT_ENCODER", "ENCODERS", "Encoder", "Features", "TooShortError", "available_encoders",
    "encode_video", "encode_video_multi", "encoder_class", "get_encoder",
]
