# The pipeline image for docker-compose.yml. The triage model bundle is not
# trained here (the labeled data lives outside the repository): run
# `make model` before `docker compose build`; .run/models/ is copied in.
# Without a bundle, triage uses the keyword baseline and says so in its log.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir .
CMD ["tingjian", "--help"]
