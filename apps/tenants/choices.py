from django.db import models


class Plan(models.TextChoices):
    FREE = "free", "Free"
    TEAM = "team", "Team"
    BUSINESS = "business", "Business"
    ENTERPRISE = "enterprise", "Enterprise"


class TenantKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PLATFORM = "platform", "Platform (public schema)"
    TEMPLATE = "template", "Template new tenants are cloned from"
