"""Rasid (راصد): real-time monitoring of Arabic-language news on Kafka."""

__version__ = "0.1.0"
