from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    # Not "sites": that label is django.contrib.sites', which a project may well add one day.
    label = "charging_sites"
    verbose_name = "Sites and circuits"
