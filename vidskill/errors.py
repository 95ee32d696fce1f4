"""Exception types shared by the stages above `video` (which keeps its own `VideoError`)."""


class VidskillError(Exception):
    """Base of vidskill's errors; the message tells the user what to do."""


class WeightsNotFoundError(VidskillError, FileNotFoundError):
    """Model weights are neither in the local cache nor at the path given."""


class DimensionMismatchError(VidskillError, ValueError):
    """Feature or embedding dimensions disagree (other encoder or other settings)."""


class ConfigError(VidskillError, ValueError):
    """A settings, template or manifest file is malformed."""


class TempSpaceError(VidskillError, OSError):
    """The temporary folder cannot hold what a command keeps there while it works
    (OSError(errno, message); its message says what to do)."""

    def __str__(self) -> str:
        return str(self.strerror)
