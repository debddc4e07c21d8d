FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir . && (tingjian model train --out /app/.run/models/triage.bundle || true)
CMD ["tingjian", "--help"]
