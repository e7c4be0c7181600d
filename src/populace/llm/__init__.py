"""Language models for minds: one client, pluggable backends, a response cache and replay."""

from populace.llm.base import (
    Backend,
    Choice,
    Completion,
    Message,
    ModelError,
    ModelUnavailableError,
    Prompt,
    Sampling,
    Usage,
)

__all__ = [
    "Backend",
    "Choice",
    "Completion",
    "Message",
    "ModelError",
    "ModelUnavailableError",
    "Prompt",
    "Sampling",
    "Usage",
]
