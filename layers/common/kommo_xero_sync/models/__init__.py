"""Payload models: Kommo API and webhook shapes, Xero API shapes, queue jobs, DynamoDB items."""
