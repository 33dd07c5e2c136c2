"""Zendesk: known-issue problem tickets, linked incidents, auto-close (see README.md)."""
