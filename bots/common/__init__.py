"""What both adapters share: at-least-once delivery over the store's inbox, and keyed locks.

Imports no chat SDK: each platform's package keeps its SDK to itself.
"""
