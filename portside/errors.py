"""The one exception tree. Every error a caller can see is one of these.

    PortsideError                      base; never raised itself
     ├── ServerException               our fault (HTTP 500)
     └── RequestError                  the caller's fault (HTTP 400 unless noted)
          ├── ClientException          generic ECS client error
          ├── InvalidParameterException
          ├── SerializationException   body is not JSON of the right shape
          ├── UnknownOperationException
          ├── AccessDeniedException
          ├── ClusterNotFoundException
          ├── ClusterContainsServicesException
          ├── ClusterContainsTasksException
          ├── ClusterContainsContainerInstancesException
          ├── ResourceNotFoundException
          ├── ResourceInUseException
          ├── ResourceAlreadyExistsException  (CloudWatch Logs)
          ├── LimitExceededException
          ├── TargetNotFoundException
          ├── AttributeLimitExceededException
          ├── ValidationException, ConflictException, ServiceQuotaExceededException
          │                            (EventBridge Scheduler)
          ├── ...                      (see the module for the full list)
          └── AuthError                HTTP 403
               ├── MissingAuthenticationTokenException
               ├── UnrecognizedClientException
               ├── InvalidSignatureException
               └── IncompleteSignatureException

Each class's name is the AWS error code (`__type`) it maps to; `api/errors.py` turns them
into HTTP responses in one place.
"""

from __future__ import annotations


class PortsideError(Exception):
    """Base of every error Portside reports to a caller."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class ServerException(PortsideError):
    status = 500


class RequestError(PortsideError):
    pass


class ClientException(RequestError):
    pass


class InvalidParameterException(RequestError):
    pass


class SerializationException(RequestError):
    pass


class UnknownOperationException(RequestError):
    pass


class AccessDeniedException(RequestError):
    pass


class ClusterNotFoundException(RequestError):
    pass


class ClusterContainsServicesException(RequestError):
    pass


class ClusterContainsTasksException(RequestError):
    pass


class ClusterContainsContainerInstancesException(RequestError):
    pass


class ClusterContainsCapacityProviderException(RequestError):
    pass


class ResourceNotFoundException(RequestError):
    pass


class ResourceInUseException(RequestError):
    pass


class ResourceAlreadyExistsException(RequestError):
    pass


class TooManyTagsException(RequestError):
    pass


class LimitExceededException(RequestError):
    pass


class TargetNotFoundException(RequestError):
    pass


class AttributeLimitExceededException(RequestError):
    pass


class ServiceNotFoundException(RequestError):
    pass


class ServiceNotActiveException(RequestError):
    pass


class PlatformUnknownException(RequestError):
    pass


class UpdateInProgressException(RequestError):
    pass


class TargetNotConnectedException(RequestError):
    pass


# EventBridge Scheduler's errors (api/scheduler.py gives each its HTTP status).
class ValidationException(RequestError):
    pass


class ConflictException(RequestError):
    pass


class ServiceQuotaExceededException(RequestError):
    pass


class AuthError(RequestError):
    status = 403


class MissingAuthenticationTokenException(AuthError):
    pass


class ExpiredTokenException(AuthError):
    """A temporary key past its expiry (query services: ExpiredToken)."""


class UnrecognizedClientException(AuthError):
    pass


class InvalidSignatureException(AuthError):
    pass


class IncompleteSignatureException(AuthError):
    pass


class NamedError(RequestError):
    """An error whose code is a service model's error shape rather than a class of this tree
    (ELB's `LoadBalancerNotFoundException`, STS's `ExpiredTokenException`...): services beyond
    ECS raise it with the shape's name; each codec writes it as its protocol does."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(message)
        self._code = code
        self.status = status

    @property
    def code(self) -> str:
        return self._code
