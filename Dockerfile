# syntax=docker/dockerfile:1
# One image for every process of Ruta de Empleabilidad: the gateway, the three services, the
# embedded shape and the operator commands (`ruta migrate`, ...). What runs is chosen by the
# command, e.g. `ruta serve --service registry` (see docker-compose.yml).
#
#   docker build -t ruta-empleabilidad .
#   docker run --rm -v ruta-data:/app/data ruta-empleabilidad ruta migrate     # SQLite, once
#   docker run --rm -p 8000:8000 -v ruta-data:/app/data ruta-empleabilidad    # embedded shape
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    RUTA_HOST=0.0.0.0 \
    RUTA_PORT=8000 \
    RUTA_DATA_DIR=/app/data

RUN groupadd --system --gid 10001 ruta \
 && useradd --system --uid 10001 --gid ruta --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin ruta

WORKDIR /app

# The pinned dependencies first, in their own layer: a change to the code alone does not
# reinstall them. They are read from pyproject.toml, the single source of the pins.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Then the project itself (the `ruta` command). The source tree stays owned by root, so the
# process cannot rewrite its own code; only /app/data (SQLite files) is writable.
COPY . .
RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info \
 && mkdir -p /app/data \
 && chown ruta:ruta /app/data

# The Alembic environments under migrations/ are not part of the installed package
# (shared/migrate.py finds them next to the source packages), so the processes import the
# packages from the source tree in /app, which holds migrations/ too.
ENV PYTHONPATH=/app

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('RUTA_PORT', '8000') + '/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["ruta", "serve", "--service", "all", "--host", "0.0.0.0"]
