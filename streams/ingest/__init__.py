"""`rasid ingest` and `rasid replay`: feeds, listing pages and archives into rasid.articles.raw.

Pure parts (sources, feeds, extraction, policy, dedup, replay mapping) import neither aiohttp nor
aiokafka and are unit-tested without network; http.py, state.py, service.py and cli.py are the
thin wiring around them.
"""
