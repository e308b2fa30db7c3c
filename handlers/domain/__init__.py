"""Pure domain logic of the deployer: requests, plans, progress, verdicts. No boto3, no AWS calls."""
