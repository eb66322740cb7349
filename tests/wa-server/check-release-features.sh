#!/bin/sh
# Proves the host's release build keeps WhatsApp's certificate-chain verification.
#
# `danger-skip-cert-chain-verify` is enabled by tests/wa-server's dependency on
# whatsapp-rust, so cargo's feature unification turns it on only in builds that include
# that crate. Features do not depend on the profile, so `cargo tree` for the package set
# of `cargo build --release -p wuts-host --features whatsapp` shows what that build gets.
#
# Build releases per package (`-p wuts-host`): a whole-workspace build includes the test
# crates, and with them the feature.
set -eu
cd "$(dirname "$0")/../.."
feature=danger-skip-cert-chain-verify

release=$(cargo tree -e features -p wuts-host --features whatsapp --prefix none)
if printf '%s\n' "$release" | grep -q "$feature"; then
    echo "FAIL: cargo build --release -p wuts-host --features whatsapp would have $feature:" >&2
    printf '%s\n' "$release" | grep "$feature" | sort -u >&2
    exit 1
fi
# Without the whatsapp feature the host has no WhatsApp client at all.
if cargo tree -e features -p wuts-host --prefix none | grep -q "$feature"; then
    echo "FAIL: cargo build --release -p wuts-host would have $feature" >&2
    exit 1
fi
# The check can see the feature: the test build has it.
tests=$(cargo tree -e features -p wuts-host -p wuts-wa-server --features wuts-host/whatsapp --prefix none)
if ! printf '%s\n' "$tests" | grep -q "wacore-noise feature \"$feature\""; then
    echo "FAIL: the test build lacks $feature; this check cannot see it" >&2
    exit 1
fi
echo "ok: the release host verifies WhatsApp's certificate chain; only builds with wuts-wa-server skip it"
