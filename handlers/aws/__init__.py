"""The AWS edge the task handlers share: clients, reads and writes of Lambda, ECR, CloudWatch, DynamoDB,
and the task wrapper (logging, metrics, error translation)."""
