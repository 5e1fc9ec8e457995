"""`rasid api`: alerts over HTTP and SSE, API keys, the live page."""
