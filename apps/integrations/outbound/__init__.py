"""Outbound integrations: Clarion calling a provider's API.

One folder per provider: `client.py` speaks HTTP through the provider's own client library
(timeouts set; failures raised as `apps.core.exceptions.TransientError` — worth retrying —
or `PermanentError`), `provider.py` says what Clarion does with it, `README.md` covers setup,
samples and limits. `crm.py` holds what the CRM providers (Salesforce, HubSpot) share.
"""
