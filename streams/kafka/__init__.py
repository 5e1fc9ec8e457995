"""Kafka topic names and creation (aiokafka admin), shared by every process."""
