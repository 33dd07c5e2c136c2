from django.db import models


class ApiKeyRole(models.TextChoices):
    """What an API key may do, mirroring the three staff roles."""

    VIEWER = "viewer", "Viewer (read only)"
    RESPONDER = "responder", "Responder"
    APPROVER = "approver", "Communications approver"
