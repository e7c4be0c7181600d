"""Backends: ``embedded`` (llama.cpp in-process), ``openai`` (any compatible server), ``scripted``."""
