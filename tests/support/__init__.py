"""Reusable test utilities: a scripted loopback LLM server, a fake CLI LLM, and pytest fixtures."""
