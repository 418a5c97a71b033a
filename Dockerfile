# caplet's container image: `caplet serve`, the binary only, as a non-root
# user. Build: docker build -t caplet .
# The isolate-hosts are the same binary (`caplet isolate-host`), started by
# the broker; they confine themselves (no_new_privs, Landlock, seccomp) and
# need no capability, no privileged mode and no user namespace.

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p caplet-cli --bin caplet \
    && cp target/release/caplet /caplet

# glibc and libgcc, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /caplet /usr/local/bin/caplet
# distroless's `nonroot` (65532); the manifests run as the same.
USER 65532:65532
EXPOSE 7420 9420
ENTRYPOINT ["/usr/local/bin/caplet"]
CMD ["serve", "--listen", "0.0.0.0:7420", "--token-file", "/etc/caplet/tokens", "--metrics", "0.0.0.0:9420"]
