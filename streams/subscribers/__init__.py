"""Alert subscribers: story grouping in the worker, the HTTP/SSE API with its keys and live
page, and webhook delivery. Pure logic lives in streams/core/stories.py and
streams/subscribers/core.py; the rest is thin I/O around it (docs/subscribers.md)."""
