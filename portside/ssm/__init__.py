"""AWS Systems Manager Parameter Store (json protocol, target prefix AmazonSSM)."""
