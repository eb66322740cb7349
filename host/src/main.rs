//! `wuts`: see `wuts --help`.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = wuts_host::cli::Cli::parse();
    if let Err(error) = wuts_host::cli::run(cli) {
        eprintln!("wuts: {error}");
        std::process::exit(1);
    }
}
