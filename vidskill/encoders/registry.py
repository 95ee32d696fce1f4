"""The encoder registry: `get_encoder("flow-hof", **settings)` builds one by name.

Adding an encoder is one file defining an `Encoder` subclass and one line in `ENCODERS`
below (imported lazily, so torchvision loads only when asked for).
"""

from __future__ import annotations

from typing import Any

from vidskill._registry import Registry
from vidskill.encoders.base import Encoder

ENCODERS: Registry[Encoder] = Registry("encoder", {
    "flow-hof": "vidskill.encoders.hof:HOFEncoder",
    "flow-motion": "vidskill.encoders.motion:MotionEncoder",
    "flow-profile": "vidskill.encoders.profile:ProfileEncoder",
    "motion-kin": "vidskill.encoders.kinematics:KinematicsEncoder",
    "flow-cnn": "vidskill.encoders.flowcnn:FlowCNNEncoder",
    "appearance": "vidskill.encoders.appearance:AppearanceEncoder",
    "skill-tcn": "vidskill.encoders.skilltcn:SkillTCNEncoder",
    "r3d_18": "vidskill.encoders.video_models:R3D18",
    "r2plus1d_18": "vidskill.encoders.video_models:R2Plus1D18",
    "mc3_18": "vidskill.encoders.video_models:MC318",
    "s3d": "vidskill.encoders.video_models:S3D",
    "mvit_v2_s": "vidskill.encoders.video_models:MViTV2S",
})
DEFAULT_ENCODER = "flow-hof"


def available_encoders() -> list[str]:
    """Names `get_encoder` accepts."""
    return ENCODERS.names()


def encoder_class(name: str) -> type[Encoder]:
    """The class registered under `name`."""
    return ENCODERS.cls(name)


def clip_model(name: str) -> type[Encoder]:
    """The class whose `embed` and `compare` treat clips of encoder `name` (no encoder is
    built): the registered class, or the base `Encoder` (mean pooling, cosine) for features
    of a name not registered here."""
    return ENCODERS.cls(name) if name in ENCODERS else Encoder


def get_encoder(name: str = DEFAULT_ENCODER, **settings: Any) -> Encoder:
    """An encoder by registry name, built with `settings` (see each class for its options)."""
    return ENCODERS.get(name, **settings)
