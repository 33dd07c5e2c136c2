"""Salesforce: accounts and contacts read into customers and subscribers (see README.md)."""
