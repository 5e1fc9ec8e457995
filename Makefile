# The two commands a newcomer needs (see README.md):
#   make demo   broker + worker running, the sample article in, its alert printed
#   make test   everything installed, lint, types, all tests against a real Kafka broker
.PHONY: demo stop test lint bootstrap

demo:
	scripts/demo

stop:
	scripts/demo stop

test:
	scripts/test

lint: bootstrap
	.venv/bin/ruff check streams tests bench scripts
	.venv/bin/ruff format --check streams tests bench
	.venv/bin/mypy

bootstrap:
	scripts/bootstrap
