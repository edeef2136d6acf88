"""EC2 Auto Scaling (query protocol, API 2011-01-01): groups of EC2 instances kept at their
desired capacity over the instances Portside starts (portside/ec2, portside/hosts)."""
