"""A run's settings: the config dataclass with its presets and validation, and which settings
may change while a run is live. May import `data`, `models`, `objectives`, `views`."""
