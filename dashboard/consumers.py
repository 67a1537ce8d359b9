"""The browser's live socket: every committed change, pushed as it happens."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from stations import background
from stations.consumers import LeanDispatch
from stations.events import GROUP


class DashboardConsumer(LeanDispatch, AsyncJsonWebsocketConsumer):
    """Only signed-in operators (the session cookie; the Origin is checked in asgi.py)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        background.ensure_started()  # where no lifespan started the jobs (a no-op once they run)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def dashboard_events(self, event: dict[str, Any]) -> None:
        await self.send_json({"events": event["events"]})
