"""The Session Manager data channel: the protocol AWS's session-manager-plugin speaks over an
ExecuteCommand session's streamUrl. `message.py` is the binary message, `payloads.py` the JSON
payloads it carries, `sequencer.py` the ordering and resending, `channel.py` one end of a data
channel (no I/O), `edge.py` the server's side of it on the exec relay."""
