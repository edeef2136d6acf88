"""EC2's network objects (the `ec2` protocol): VPCs, subnets, security groups and their
rules, network interfaces and the read-only routing pieces, as the EC2 API serves them."""
