FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY schemas ./schemas
COPY deploy/rules ./deploy/rules
RUN pip install --no-cache-dir -e .
ENV RASID_WEB_HOST=0.0.0.0
EXPOSE 6066
CMD ["rasid", "worker"]
