//! `wuts-offline`: the `wuts` server, built where whatsapp-rust accepts any certificate
//! chain (see this crate's Cargo.toml). For tests against the offline WhatsApp server only.

use clap::Parser;

fn main() {
    let cli = wuts_host::cli::Cli::parse();
    if let Err(error) = wuts_host::cli::run(cli) {
        eprintln!("wuts-offline: {error}");
        std::process::exit(1);
    }
}
