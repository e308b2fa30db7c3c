"""The one error a misconfigured deployer raises at synth."""


class ConfigurationError(ValueError):
    """A setting cannot be used; the message names it and says what to change."""
