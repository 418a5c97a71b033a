//! The `caplet` binary; everything lives in [`caplet_client::cli`].

fn main() -> std::process::ExitCode {
    caplet_client::cli::main()
}
