from django.apps import AppConfig

from stations.background import Job, Scope


class LocalListsConfig(AppConfig):
    name = "locallists"
    verbose_name = "Local authorization lists"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_save, pre_delete

        from locallists import (
            remote,  # noqa: F401  (declares SendLocalList, GetLocalListVersion)
            signals,
        )
        from locallists.models import AuthorizationList
        from stations import background
        from stations.models import IdToken

        # A token that changes (status, expiry, group) or goes makes the lists holding it due.
        post_save.connect(signals.token_saved, sender=IdToken, dispatch_uid="locallists-token")
        pre_delete.connect(signals.token_saved, sender=IdToken, dispatch_uid="locallists-token-d")
        post_save.connect(signals.list_saved, sender=AuthorizationList, dispatch_uid="locallists-l")
        m2m_changed.connect(
            signals.list_tokens_changed,
            sender=AuthorizationList.tokens.through,
            dispatch_uid="locallists-m2m",
        )
        background.contribute(sync_job)


def sync_job() -> Job:
    """Every OCPP_LOCAL_LIST_SYNC_SECONDS, the connected stations whose list is due get their
    update (at most OCPP_LOCAL_LIST_SYNC_BATCH a tick): one worker of the cluster sends them."""
    from django.conf import settings

    from locallists.remote import sync
    from locallists.sync import due
    from stations.db import in_db_thread
    from stations.remote.forms import InputError

    async def tick() -> str:
        stations = await in_db_thread(due)(settings.OCPP_LOCAL_LIST_SYNC_BATCH)
        done = 0
        for station_id in stations:
            try:
                await sync(station_id, source="sync")
                done += 1
            except InputError:
                continue  # too large: shown on the station's list
        return f"sent local lists to {done} stations" if done else ""

    return Job(
        "local list sync",
        Scope.CLUSTER,
        "OCPP_LOCAL_LIST_SYNC_SECONDS",
        lambda: settings.OCPP_LOCAL_LIST_SYNC_SECONDS,
        tick,
    )
