"""The one family of errors audiogen raises on purpose; each message is a sentence for a user."""


class AudiogenError(Exception):
    """Base class: the CLI prints its message on one line and exits non-zero."""

    exit_code = 2


class ScoreError(AudiogenError):
    """A DrumScore that breaks the contract (bad tempo, meter, tick, velocity, section...)."""


class MidiError(AudiogenError):
    """A MIDI file that cannot be read as drums."""


class KitError(AudiogenError):
    """An unknown kit, or a kit whose manifest or files are broken."""


class MixError(AudiogenError):
    """A mix preset or loudness target that cannot be met."""


class RequestError(AudiogenError):
    """An option value out of range or of the wrong kind."""


class OutputError(AudiogenError):
    """An output folder that exists (without --force) or cannot be written."""
