# OpsOrch Core: the `opsorch` host with the mock adapter library.
#
#   docker build -t opsorch .
#   docker run --rm -p 8080:8080 -p 9464:9464 -e OPSORCH_INCIDENT_PROVIDER=mock opsorch
#
# Stage 1 builds the release binary and the mock library; stage 2 is a slim
# Debian runtime (glibc, needed to load adapter libraries) that runs them as
# an unprivileged user. See docs/DEPLOY.md.

# The toolchain the project is built and tested with.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p opsorch -p opsorch-mock \
    && mkdir -p /out/plugins \
    && cp target/release/opsorch /out/opsorch \
    && cp target/release/libopsorch_mock.so /out/plugins/libopsorch_mock.so

FROM debian:bookworm-slim
# A fixed uid/gid so that Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 opsorch \
    && useradd --system --uid 10001 --gid opsorch --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin opsorch \
    && mkdir -p /var/lib/opsorch \
    && chown opsorch:opsorch /var/lib/opsorch
COPY --from=build /out/opsorch /usr/local/bin/opsorch
COPY --from=build /out/plugins/ /opt/opsorch/plugins/

# The API on every interface; the admin listener (/metrics, /live, /ready)
# on every interface too, so that Prometheus and the orchestrator's probes
# reach it from outside the container (the host logs a WARN about that:
# publish it only where it belongs).
ENV OPSORCH_ADDR=:8080 \
    OPSORCH_ADMIN_ADDR=0.0.0.0:9464 \
    OPSORCH_PLUGIN_DIR=/opt/opsorch/plugins
EXPOSE 8080 9464
USER 10001:10001

# No HTTP client in the image: bash's /dev/tcp asks the admin listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /live HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["/usr/local/bin/opsorch"]
CMD ["serve"]
