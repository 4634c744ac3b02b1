# Two stages: build on Debian 12 with the -dev packages, run on Debian 12 with the runtime libraries.
FROM debian:12 AS build
COPY scripts/install-deps /src/scripts/install-deps
RUN /src/scripts/install-deps build
COPY . /src
RUN cd /src/web && npm ci --no-audit --no-fund --loglevel=error
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCINEVAULT_TESTS=OFF \
 && cmake --build /build --target cinevault

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libavformat59 libavcodec59 libavfilter8 libswscale6 libswresample4 libavutil57 \
      libspdlog1.10 libfmt9 libsqlite3-0 libssl3 libsystemd0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/cinevault cinevault \
 && mkdir -p /var/lib/cinevault && chown cinevault /var/lib/cinevault
COPY --from=build /build/cinevault /usr/local/bin/cinevault
COPY config/cinevault.json /etc/cinevault/cinevault.json
USER cinevault
EXPOSE 8080
VOLUME /var/lib/cinevault
# Listen on all interfaces inside the container; publish the port with -p.
ENTRYPOINT ["/usr/local/bin/cinevault", "serve", "--config", "/etc/cinevault/cinevault.json", \
            "--data", "/var/lib/cinevault", "--listen", "0.0.0.0:8080"]
