"""All AWS I/O: DynamoDB, SQS, Secrets Manager, SSM."""
