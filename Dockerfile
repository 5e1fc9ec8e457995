# One image for every Rasid process: `rasid worker` (the default command), `rasid api`,
# `rasid webhooks`, `rasid ingest` (docker-compose.yml, deploy/k8s/).
#
# Stage 1 builds wheels: Rasid's own and one for every dependency. The package is
# self-contained (streams/resources.py): the schemas, the default rule pack and the example
# sources file ship inside `streams/`, where the repository has relative symlinks to the
# top-level copies; those targets are copied here so that the wheel gets the files (with
# dangling links the wheel would silently lack them). Only the wheels leave this stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY streams ./streams
COPY schemas ./schemas
COPY deploy/rules/default.yaml ./deploy/rules/default.yaml
COPY deploy/sources.yaml ./deploy/sources.yaml
# Dependencies at the versions of the committed lock (what CI tests), then Rasid itself.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the wheels installed (not editable, no source tree) into a clean slim image.
FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/rasid-*.whl \
    && rm -rf /wheels \
    && groupadd --gid 10001 rasid \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin rasid \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
WORKDIR /app
# What `rasid ingest` polls; docker-compose mounts the repository's copy over it, Kubernetes
# uses this one (change it and rebuild, or mount a ConfigMap at this path).
COPY deploy/sources.yaml /app/deploy/sources.yaml
ENV RASID_SOURCES_PATH=/app/deploy/sources.yaml \
    RASID_DATA_DIR=/app/data \
    RASID_REPLAY_CHECKPOINT_DIR=/app/data/replay \
    RASID_WEB_HOST=0.0.0.0 \
    RASID_API_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
# The same uid/gid as the Kubernetes securityContext.
USER 10001:10001
# worker 6066, ingest 6067, api 6068, webhooks 6069
EXPOSE 6066 6067 6068 6069
CMD ["rasid", "worker"]
