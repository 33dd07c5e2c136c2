#!/usr/bin/env python
"""Clarion's command line. Without DATABASE_URL / REDIS_URL it starts the embedded servers."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    if not os.environ["DJANGO_SETTINGS_MODULE"].endswith(".production"):
        from config.embedded import bootstrap

        bootstrap()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
