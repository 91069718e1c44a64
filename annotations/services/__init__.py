"""Business actions of the labeling domain. Each writes inside its own transaction."""
