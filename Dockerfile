# syntax=docker/dockerfile:1
# goalstream container image: Debian 12, built from source with Debian's own
# -dev packages (the same ones tools/setup installs), then a slim runtime
# stage with only the shared libraries the binary links.
#
#   docker build -t goalstream .
#   docker-compose -f compose.yaml up        (with a Kafka broker)

############################ build ############################
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      librdkafka-dev librocksdb-dev nlohmann-json3-dev libboost1.81-dev \
      doctest-dev libre2-dev libsimdjson-dev libcli11-dev libvalijson-dev libxxhash-dev libhowardhinnant-date-dev tzdata libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# Tests need a broker and are run by tools/test, not here.
ARG BUILD_JOBS=2
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && cmake --build build -j "${BUILD_JOBS}" \
 && DESTDIR=/out cmake --install build --prefix /usr/local --strip \
 && /out/usr/local/bin/goalstream --version

############################ runtime ############################
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime halves of the -dev packages above (Boost.Beast, nlohmann-json,
# CLI11, valijson and doctest are header-only); curl for the healthcheck.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 librocksdb7.8 libre2-9 libsimdjson14 libssl3 libdate-tz3 tzdata \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /out/usr/local/ /usr/local/
# Fail the image build, not the first run, if a shared library is missing.
RUN if ldd /usr/local/bin/goalstream | grep 'not found'; then exit 1; fi \
 && goalstream --version

RUN groupadd --system --gid 10001 goalstream \
 && useradd --system --uid 10001 --gid goalstream --home-dir /data --shell /usr/sbin/nologin goalstream \
 && mkdir -p /data && chown goalstream:goalstream /data
USER goalstream
WORKDIR /data
VOLUME ["/data"]

ENV GOALSTREAM_BROKERS=kafka:9092 \
    GOALSTREAM_DATA_DIR=/data \
    GOALSTREAM_LISTEN=0.0.0.0:8080 \
    GOALSTREAM_TOPICS_FILE=/usr/local/share/goalstream/topics.json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1

CMD ["goalstream", "serve", "--brokers", "kafka:9092", "--data-dir", "/data", "--listen", "0.0.0.0:8080"]
