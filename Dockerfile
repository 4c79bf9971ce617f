# One Dockerfile for every connector image of this workspace:
#
#   docker build --build-arg CONNECTOR=source-klaviyo \
#                --build-arg CONNECTOR_VERSION=3.0.0 -t airbyte-rust/source-klaviyo:3.0.0 .
#
# The `build` stage compiles one fully static binary (glibc linked statically, rustls with
# compiled-in web PKI roots), so the image itself needs no libc, no CA bundle and no shell.
# `scripts/test-images` replaces the `build` stage with host-built binaries through a named
# build context (`--build-context build=<dir>`), so only the final stage is ever built there.

ARG RUST_IMAGE=rust:1.95-bookworm

FROM ${RUST_IMAGE} AS build
ARG CONNECTOR
WORKDIR /src
COPY . .
RUN test -n "${CONNECTOR}" || { echo "--build-arg CONNECTOR=source-... is required" >&2; exit 1; } \
 && rustup target add x86_64-unknown-linux-gnu \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile image \
      --target x86_64-unknown-linux-gnu -p "${CONNECTOR}" --bin "${CONNECTOR}" \
 && mkdir -p /out \
 && cp "target/x86_64-unknown-linux-gnu/image/${CONNECTOR}" "/out/${CONNECTOR}"

FROM scratch
ARG CONNECTOR
# The crate version (scripts/test-images reads it with `cargo metadata`); it must equal
# `dockerImageTag` in metadata/<connector>/metadata.yaml.
ARG CONNECTOR_VERSION=dev
# Exec-form ENTRYPOINT cannot expand build arguments and a scratch image has no shell, so every
# image keeps its binary under the same path; the labels say which connector it is.
COPY --from=build /out/${CONNECTOR} /connector
ENV AIRBYTE_ENTRYPOINT="/connector"
LABEL io.airbyte.name="airbyte-rust/${CONNECTOR}" \
      io.airbyte.version="${CONNECTOR_VERSION}"
# An unprivileged numeric user: scratch has no /etc/passwd to name one.
USER 65532:65532
ENTRYPOINT ["/connector"]
