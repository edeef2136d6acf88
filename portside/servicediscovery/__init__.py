"""AWS Cloud Map (servicediscovery): namespaces, services and instances, answered by the DNS
server for DNS namespaces, and the ECS services' registries."""
