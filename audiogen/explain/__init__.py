"""`audiogen explain`: rhythm lessons made of planner beats that differ in one concept, and any
drum MIDI described in words."""
