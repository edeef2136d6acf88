"""Portside's `session-manager-plugin`: the client side of the Session Manager data channel,
run by the AWS CLI as it runs AWS's plugin. `main.py` reads the arguments, `session.py` runs
the data channel, `terminal.py` owns the local terminal."""
