"""Business actions of the consistency domain."""
