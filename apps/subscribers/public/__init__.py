"""The public self-service pages on a tenant's host: subscribe, manage, unsubscribe."""
