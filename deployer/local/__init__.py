"""The local emulator: the deployer's state machine and handlers on an in-process AWS (moto)."""
