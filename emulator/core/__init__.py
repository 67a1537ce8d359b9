"""The version-neutral station: everything an emulated charging station does whichever OCPP version
it speaks, so that 1.6 and 2.0.1 share one implementation of the behaviours that break CSMSs in the
field (boot retries, back-off, the ordered outbox, heartbeats, metering).

Self-contained machinery is a component with its own state:

- `connection.Connection`: the WebSocket, back-off and the reconnect loop;
- `outbox.Outbox`: transaction messages, in order, at least once, with retries;
- `heartbeat.Heartbeat`: the heartbeat timer.

Behaviour over the station's shared state (its connectors, settings and protocol) is a mixin of
`EmulatedStation`, each declaring in its bases the parts it builds on, all typed against
`base.StationBase`: `rpc`, `lifecycle`, `connectors`, `reservations`, `authorization`, `metering`,
`transactions`. A part never imports a protocol version: it asks `station.protocol` (an
`emulator.protocol.base.ProtocolBase`) for payloads in the version's shapes.
"""
