"""lambda-deployer's client side: the CLI and the local emulator."""
