"""Clarion's WSGI application with the monitoring hooks' fast path in front:

    gunicorn apps.integrations.wsgi:application

Everything but hook deliveries goes to `config.wsgi.application` unchanged. (The imports
stay in this order: config.wsgi sets Django up, the fast path imports models.)
"""
# isort: skip_file

from config.wsgi import application as clarion_application

from apps.integrations.fastpath import HooksFastPath

application = HooksFastPath(clarion_application)
