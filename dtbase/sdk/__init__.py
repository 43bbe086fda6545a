"""Write services the DTBase way: subclass `BaseIngress` or `BaseModel`, implement
`get_service_data(**kwargs)` returning `(endpoint, payload)` pairs, and call the object."""

from dtbase.sdk.base import (
    BaseIngress,
    BaseModel,
    BaseService,
    Call,
    CallResult,
    Outcome,
    RunSummary,
    ServiceRunError,
    ServiceSettings,
)

__all__ = [
    "BaseIngress",
    "BaseModel",
    "BaseService",
    "Call",
    "CallResult",
    "Outcome",
    "RunSummary",
    "ServiceRunError",
    "ServiceSettings",
]
