"""The pure core: plain typed functions and classes, no faust import.

Everything that decides what an article says (parsing, normalisation, classification, rule
matching, alert building) lives here so it can be unit-tested without a broker.
"""
