"""Slack as the support team's chat: a bot per tenant, war rooms (see README.md)."""
