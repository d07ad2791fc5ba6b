# hostscore: the API (`hostscore serve`) or a scoring worker (`hostscore worker`), with the bundled
# models (they ship inside the Python packages: nothing is downloaded when it runs).
# CPU (default):
#   docker build -t hostscore .
# GPU: a CUDA base and torch built for it
#   docker build -t hostscore:cuda --build-arg BASE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124 .
# docker-compose.yml runs the API, workers, PostgreSQL and Redis.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV DEBIAN_FRONTEND=noninteractive HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 \
    VENV=/opt/hostscore/venv HOSTSCORE_DATA_DIR=/data HOSTSCORE_CACHE=/opt/hostscore/cache
ENV PATH=/opt/hostscore/venv/bin:$PATH
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/hostscore/src
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY scorer ./scorer
COPY api ./api
# the README's install script, without the test extras
RUN EXTRAS= TORCH_INDEX_URL=${TORCH_INDEX_URL} scripts/install.sh \
    && rm -rf /root/.cache/pip /var/lib/apt/lists/* \
    && hostscore --help >/dev/null

VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s \
  CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["hostscore", "serve", "--host", "0.0.0.0", "--port", "8000"]
