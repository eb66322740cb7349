//! `wuts`: see `wuts --help`.

use clap::Parser;

/// Small, short-lived allocations from several threads are the host's hot path (one
/// request's JSON, protobuf and log row); mimalloc serves them without glibc's arena
/// lock contention. Plugins keep their own allocator: what crosses the ABI carries its
/// own deallocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = wuts_host::cli::Cli::parse();
    if let Err(error) = wuts_host::cli::run(cli) {
        eprintln!("wuts: {error}");
        std::process::exit(1);
    }
}
