"""Service Connect, the control plane's side: a service's configuration checked and shown
(`config.py`), ListServicesByNamespace (`api.py`), its tasks registered in Cloud Map
(`registrations.py`) and what each host's proxy must serve (`view.py`). The host's side is
`portside/agent/serviceconnect/`; the agent asks through `gateway/serviceconnect.py`."""
