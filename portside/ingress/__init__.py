"""ECS-managed ingress: the shared Application Load Balancers ECS gateways make for the services
that connect to them (HTTPS on 443, one host name per service), made through ELB's and ACM's
own operations."""
