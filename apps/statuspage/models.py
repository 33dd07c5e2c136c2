"""How a tenant's status page looks."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models


def validate_footer_links(value: object) -> None:
    """[{"label": "Privacy", "url": "https://..."}, ...], at most 8."""
    if not isinstance(value, list) or len(value) > 8:
        raise ValidationError('Give a list of at most 8 links: [{"label": ..., "url": ...}].')
    check_url = URLValidator(schemes=["http", "https"])
    for number, link in enumerate(value, start=1):
        if not isinstance(link, dict) or set(link) != {"label", "url"}:
            raise ValidationError(f'Link {number} needs exactly "label" and "url".')
        if not str(link["label"]).strip() or len(str(link["label"])) > 60:
            raise ValidationError(f"Link {number}: give a label of 1-60 characters.")
        try:
            check_url(str(link["url"]))
        except ValidationError as exc:
            raise ValidationError(f"Link {number}: {link['url']!r} is not an http(s) URL.") from exc


class PageBranding(models.Model):
    """The tenant's logo, accent colour and footer links. One row (pk 1)."""

    logo_url = models.URLField(blank=True, help_text="An https URL of the logo (SVG or PNG).")
    accent_color = models.CharField(
        max_length=7,
        default="#1f6feb",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour such as #1f6feb.")],
    )
    footer_links = models.JSONField(default=list, blank=True, validators=[validate_footer_links])
    updated_at = models.DateTimeField(auto_now=True)

    singleton_pk: ClassVar[int] = 1

    class Meta:
        verbose_name = "status page branding"
        verbose_name_plural = "status page branding"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="branding_single_row")]

    def __str__(self) -> str:
        return "Status page branding"
