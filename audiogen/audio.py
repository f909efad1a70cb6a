"""Audio facts that every stage shares."""

SAMPLE_RATES = (48000, 44100)  # what users get, in the order the CLI offers them
