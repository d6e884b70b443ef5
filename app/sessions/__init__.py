"""Live sessions: rooms, student join by link or code, the waiting room, call signalling."""
