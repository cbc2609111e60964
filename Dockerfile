# syntax=docker/dockerfile:1.7
# One image for the whole workspace: every deployable (applicant, benefits, housing, notify, insight, gateway)
# is a console script on PATH; the container's command picks one, e.g. `applicant serve ...`,
# `applicant worker`, `gateway migrate` (see docker-compose.yml and deploy/k8s/).
#
#   docker build -t registry.example.org/talent/platform:0.1.0 .

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------------------------------------------
# build: uv (from PyPI) installs the locked dependencies into /app/.venv
# ---------------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# 1. Third-party dependencies only: this layer is rebuilt when uv.lock or a pyproject.toml changes,
#    not when the code does.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY services/applicant/pyproject.toml services/applicant/
COPY services/benefits/pyproject.toml services/benefits/
COPY services/housing/pyproject.toml services/housing/
COPY services/notify/pyproject.toml services/notify/
COPY services/insight/pyproject.toml services/insight/
COPY gateway/pyproject.toml gateway/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# 2. The workspace members. They stay editable installs (uv's default): each CLI finds its
#    alembic.ini and migrations/ next to its src/ directory, so the source tree must stay in /app.
COPY libs libs
COPY services services
COPY gateway gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# ---------------------------------------------------------------------------------------------------
# runtime: the same Python, the virtualenv and the sources, no uv, no compilers, not root
# ---------------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="talent-platform" \
      org.opencontainers.image.description="人才码 talent-code platform: applicant, benefits, housing, notify, insight, gateway"

RUN groupadd --system --gid 10001 talent \
    && useradd --system --uid 10001 --gid talent --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin talent

WORKDIR /app
# Owned by root and read-only for the service user: the containers can run with a read-only root fs.
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TALENT_ENV=production

USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004

# The default is the gateway; every other process sets its own command.
CMD ["gateway", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
