#!/usr/bin/env python
"""Django's command-line utility for administrative tasks (`csms` once the package is installed)."""

from csms_site.__main__ import main

if __name__ == "__main__":
    main()
