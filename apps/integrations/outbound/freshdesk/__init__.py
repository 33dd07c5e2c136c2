"""Freshdesk: the known-issue flow over its REST API v2 (see README.md)."""
