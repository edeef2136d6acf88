"""AWS Security Token Service: who is calling (and, with the identity work, temporary keys)."""
