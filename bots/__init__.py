"""Adapters that connect the dialogue engine to people: the console, the CLI, chat platforms.

Importing ``bots`` imports no chat-platform SDK; each platform module does so itself.
"""
