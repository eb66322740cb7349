//! `wuts`: see `wuts --help`.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arenas glibc's malloc may use: two, unless `MALLOC_ARENA_MAX` says otherwise.
///
/// The host runs on mimalloc, but the plugins and GStreamer allocate with glibc's malloc,
/// which gives each thread that allocates while another does an arena of its own (up to
/// eight per core) and keeps what is freed in each. Over 200 mixed media sends after a
/// warm-up, RSS grew 36% with the default and 6% with two arenas (README, Benchmarks:
/// the media benchmark).
const MALLOC_ARENAS: libc::c_int = 2;

fn cap_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return; // glibc read it at start-up: the operator's choice stands
    }
    // SAFETY: called first thing in main, before any thread exists; mallopt only sets a
    // tunable of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
}

fn main() {
    cap_malloc_arenas();
    let cli = wuts_host::cli::Cli::parse();
    if let Err(error) = wuts_host::cli::run(cli) {
        eprintln!("wuts: {error}");
        std::process::exit(1);
    }
}
