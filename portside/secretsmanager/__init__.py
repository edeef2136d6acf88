"""AWS Secrets Manager: secrets whose values are kept only sealed under a KMS key (through
`portside/kms/envelope.py`), their versions and staging labels, resource policies (stored, not
enforced) and the random passwords; `resolve.py` hands a secret's value to a task start in
ECS's words."""
