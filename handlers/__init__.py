"""The deployment state machine's task handlers and the pure domain logic behind them."""
