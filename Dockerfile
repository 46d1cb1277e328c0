# syntax=docker/dockerfile:1
# heard's image: one image for every process of the production layout (compose.yaml, README
# "Deploying"): `heard serve --workers 0`, `heard worker`, `heard cron`, `heard db upgrade`.
# The dependencies are requirements.lock's, installed by hash, on the Python it was resolved on.
ARG PYTHON=3.11

FROM python:${PYTHON}-slim-bookworm AS dependencies
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock pyproject.toml /build/
COPY scripts/runtime_only.py /build/
RUN python -m venv /opt/heard \
 && /opt/heard/bin/pip install --quiet --require-hashes -r /build/requirements.lock \
 && /opt/heard/bin/python /build/runtime_only.py /build/pyproject.toml

FROM python:${PYTHON}-slim-bookworm
# Fonts for every script heard draws in its Telegram charts (bot/charts.py finds them by their
# character maps): Noto for Latin, Bengali, Devanagari, Tamil, Arabic and Urdu (Nastaliq) and
# more, as .ci/run installs for the tests; DejaVu as the fallback. FriBiDi and Raqm: Pillow's
# right-to-left and complex-script shaping.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends fonts-noto-core fonts-dejavu-core \
      libfribidi0 libraqm0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/heard --create-home heard
COPY --from=dependencies /opt/heard /opt/heard
WORKDIR /app
COPY . /app
# editable, as `make install` does: the catalogs under locales/ are read beside the packages
RUN /opt/heard/bin/pip install --quiet --no-deps --no-build-isolation --no-cache-dir -e /app \
 && /opt/heard/bin/python -m compileall -q /app/heard /app/surveys /app/worker /app/sms \
      /app/bot /app/voice
ENV PATH=/opt/heard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HEARD_DATA_DIR=/var/lib/heard \
    HEARD_LOG_FORMAT=json
USER heard
EXPOSE 8000
# health checks are per process (compose.yaml): the web's /healthz, a worker's rq registration
CMD ["heard", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "0", "--http-workers", "2"]
