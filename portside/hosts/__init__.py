"""Hosts Portside starts for EC2 instances: the provider interface and its implementations."""
