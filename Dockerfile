# Multi-stage build of the Tessera server; dependencies come from the same script as CI's.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p tessera

FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
# libsrtp2 on OpenSSL, built by install-deps.sh in the build stage (crates/webrtc/src/srtp.rs).
COPY --from=build /usr/local/lib/tessera /usr/local/lib/tessera
COPY assets /srv/tessera/assets
WORKDIR /srv/tessera
# Recordings go to ./recordings by default: writable by the unprivileged user the server runs as.
RUN mkdir recordings && chown nobody:nogroup recordings
ENV TESSERA_LISTEN=0.0.0.0:8080 \
    TESSERA_UDP_PORTS=10000-10100
EXPOSE 8080 10000-10100/udp
VOLUME /srv/tessera/recordings
USER nobody
CMD ["tessera", "serve"]
