//! The `cairn` binary.

fn main() -> std::process::ExitCode {
    cairn_api::cli::main()
}
