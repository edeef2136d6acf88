"""IAM: users, groups, roles, instance profiles, managed and inline policies, access keys."""
