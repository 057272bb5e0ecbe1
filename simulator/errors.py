"""The errors that stop the simulator before or instead of a run."""


class SimulatorError(Exception):
    """An error that stops the simulator before or instead of a run."""


class ConfigError(SimulatorError):
    """A configuration file that is missing, unreadable or invalid."""


class ReplicaError(SimulatorError):
    """The replica program is missing or cannot be executed."""
