"""Data planes Portside runs and supervises (HAProxy for load balancers)."""
