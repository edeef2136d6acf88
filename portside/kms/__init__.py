"""AWS KMS, as far as Portside's services need it: symmetric keys that encrypt values at rest
(Secrets Manager, SSM Parameter Store) and the API to manage them (json, TrentService)."""
