"""Language models for minds: one client, pluggable backends, a response cache and replay."""

from populace.llm.base import (
    Backend,
    BackendConfig,
    Choice,
    Completion,
    Message,
    ModelError,
    ModelUnavailableError,
    Prompt,
    Sampling,
    Usage,
    model_backends,
    register_backend,
)

__all__ = [
    "Backend",
    "BackendConfig",
    "Choice",
    "Completion",
    "Message",
    "ModelError",
    "ModelUnavailableError",
    "Prompt",
    "Sampling",
    "Usage",
    "model_backends",
    "register_backend",
]
