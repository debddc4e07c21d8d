# The pipeline image for docker-compose.yml. The triage model bundle is trained
# here from the project's own labeled corpus (data/corpus, data/CARD.md): the
# image needs nothing from outside the repository.
FROM python:3.11-slim
WORKDIR /app
COPY . /src
RUN pip install --no-cache-dir /src \
 && TINGJIAN_CORPUS_DIR=/src/data/corpus tingjian model train --out /app/models/triage.bundle \
 && rm -rf /src
ENV TINGJIAN_TRIAGE__MODEL_PATH=/app/models/triage.bundle
CMD ["tingjian", "--help"]
