from django import template
from django.utils.safestring import SafeString

from apps.postmortems.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(value: str | None) -> SafeString:
    """Markdown as sanitised HTML (see apps.postmortems.markdown)."""
    return render_markdown(value or "")
