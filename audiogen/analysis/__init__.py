"""Rhythm measures of a `DrumScore`: what a beat plays, in numbers a lesson, a description or a
genre check can share (backbeat, four-on-the-floor, swing, syncopation, cross-rhythms, clave)."""
