"""The protocol layer of the emulated station, shared by both OCPP versions.

`base.ProtocolBase` is what the version-neutral core (`emulator.core`) asks of a version: payloads
in the version's shapes, and the reaction to a Reset. A version (`emulator.v16.Protocol16`,
`emulator.v201.Protocol201`) is that base composed of one mixin per OCPP functional block; each
block's version-neutral half lives here under the block's name, its version halves in
`emulator/v16/` and `emulator/v201/` under the same name. So 1.6 and 2.0.1 differ only in what
really differs: message shapes and field names.
"""
